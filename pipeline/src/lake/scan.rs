//! The lake's Hive-partitioned tables as polars lazy frames (the close reads its events this
//! way, `kakin query` every table): partition columns are kept as text (`2026-10`,
//! `2026-10-01`), as the paths spell them.

use polars::prelude::*;
use std::path::Path;

/// Every Parquet file under `dir` as one lazy table, or none when it has no file yet.
pub fn scan_table(dir: &Path) -> PolarsResult<Option<LazyFrame>> {
    if !has_parquet(dir) {
        return Ok(None);
    }
    let args = ScanArgsParquet {
        hive_options: HiveOptions {
            try_parse_dates: false,
            ..HiveOptions::new_enabled()
        },
        ..Default::default()
    };
    let glob = format!("{}/**/*.parquet", dir.display());
    LazyFrame::scan_parquet(PlRefPath::new(glob), args).map(Some)
}

fn has_parquet(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        path.extension().is_some_and(|x| x == "parquet") || (path.is_dir() && has_parquet(&path))
    })
}
