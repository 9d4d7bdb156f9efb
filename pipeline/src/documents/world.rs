//! The Typst world every document is compiled in, built once per renderer: the standard
//! library, the embedded font and the templates are shared; only `/data.json`, the main
//! template and the date differ per document. File ids are interned for the life of the
//! process (at most 65,536), so every document reuses the same fixed virtual paths; the memo
//! cache is process-wide, so it is evicted after every batch to keep memory flat over
//! thousands of documents. Within a batch, what documents have in common (headings, labels,
//! notes, the issuer's block) is laid out once and reused: the templates keep each document's
//! own data out of the styles its content is laid out with (`document-page` in
//! `templates/common.typ`), since typst's layout cache is keyed by those styles.

use super::{Document, DocumentError, Template, COMMON};
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

/// The Japanese font every document embeds (IPAexGothic, IPA Font License; see
/// `data/fonts/`).
pub(super) const FONT: &[u8] = include_bytes!("../../../data/fonts/ipaexg.ttf");

/// The virtual file a document's data is read from.
const DATA: &str = "/data.json";

/// How many documents are compiled between two evictions of typst's memo cache: callers that
/// render thousands write each batch's PDFs away before rendering the next, so that memory
/// holds one batch at a time.
pub const BATCH: usize = 64;

/// A document's PDF, or why its template failed on its data.
pub type Rendered = Result<Vec<u8>, DocumentError>;

/// Renders documents to PDF, in parallel across cores.
pub struct Renderer {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    sources: HashMap<FileId, Source>,
    mains: HashMap<Template, FileId>,
    data: FileId,
}

fn file_id(path: &str) -> FileId {
    let path = VirtualPath::new(path).expect("fixed virtual paths are valid");
    FileId::new(RootedPath::new(VirtualRoot::Project, path))
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    pub fn new() -> Renderer {
        let fonts: Vec<Font> = Font::iter(Bytes::new(FONT)).collect();
        let templates = Template::ALL.map(|t| (t.file(), t.source()));
        let sources = templates
            .into_iter()
            .chain([COMMON])
            .map(|(file, text)| {
                let id = file_id(&format!("/{file}"));
                (id, Source::new(id, text.to_owned()))
            })
            .collect();
        Renderer {
            library: LazyHash::new(Library::builder().build()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
            sources,
            mains: Template::ALL
                .into_iter()
                .map(|t| (t, file_id(&format!("/{}", t.file()))))
                .collect(),
            data: file_id(DATA),
        }
    }

    /// Each document's PDF, in the order given.
    pub fn render(&self, documents: &[Document]) -> Vec<Rendered> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut out = Vec::with_capacity(documents.len());
        for batch in documents.chunks(BATCH) {
            let next = AtomicUsize::new(0);
            let mut done: Vec<(usize, Rendered)> = std::thread::scope(|scope| {
                let threads: Vec<_> = (0..workers.min(batch.len()))
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                let Some(document) = batch.get(i) else {
                                    return mine;
                                };
                                mine.push((i, self.render_one(document)));
                            }
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .flat_map(|t| t.join().expect("rendering does not panic"))
                    .collect()
            });
            done.sort_by_key(|(i, _)| *i);
            out.extend(done.into_iter().map(|(_, pdf)| pdf));
            typst::comemo::evict(0);
        }
        out
    }

    fn render_one(&self, document: &Document) -> Rendered {
        let world = DocumentWorld {
            renderer: self,
            main: self.mains[&document.template],
            data: Bytes::new(document.data.clone()),
            today: document.issue_date,
        };
        let failed = |diagnostics: &[SourceDiagnostic]| DocumentError::Template {
            file: document.file_name.clone(),
            template: document.template.file(),
            message: diagnostics
                .iter()
                .map(|d| d.message.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        };
        let compiled: PagedDocument = typst::compile(&world).output.map_err(|e| failed(&e))?;
        let date = datetime(document.issue_date);
        let options = PdfOptions {
            ident: Smart::Custom(document.file_name.clone()),
            timestamp: Some(Timestamp::new_utc(date)),
            standards: PdfStandards::new(&[PdfStandard::A_2b]).expect("PDF/A-2b alone is valid"),
            ..PdfOptions::default()
        };
        typst_pdf::pdf(&compiled, &options).map_err(|e| failed(&e))
    }
}

fn datetime(date: NaiveDate) -> Datetime {
    Datetime::from_ymd(date.year(), date.month() as u8, date.day() as u8).expect("a calendar date")
}

/// One document's view of the renderer: its main template, its data and its date.
struct DocumentWorld<'a> {
    renderer: &'a Renderer,
    main: FileId,
    data: Bytes,
    today: NaiveDate,
}

impl World for DocumentWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.renderer.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.renderer.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        self.renderer
            .sources
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.renderer.data {
            return Ok(self.data.clone());
        }
        self.source(id)
            .map(|source| Bytes::new(source.text().as_bytes().to_vec()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.renderer.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Some(datetime(self.today))
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().get_with_slash().into())
}
