//! Finance's imports: master data and adjustment slips.

use crate::app::{ledgered, Context, Failure, Recorded};
use pipeline::master::{self, ImportReport};
use std::path::Path;

impl Recorded for ImportReport {
    fn counts(&self) -> String {
        self.to_string()
    }
}

/// `kakin master import DIR`.
pub async fn import_master(context: &Context, dir: &Path) -> Result<(), Failure> {
    let arguments = dir.display().to_string();
    let job = master::import_master(&context.db, &context.lake, dir);
    let report = ledgered(context, "master import", &arguments, job).await?;
    println!("master data imported from {arguments}: {report}");
    Ok(())
}

/// `kakin adjustments import FILE`.
pub async fn import_adjustments(context: &Context, file: &Path) -> Result<(), Failure> {
    let arguments = file.display().to_string();
    let job = master::import_adjustments(&context.db, file);
    let report = ledgered(context, "adjustments import", &arguments, job).await?;
    println!("adjustment slips imported from {arguments}: {report}");
    Ok(())
}
