//! The Typst world documents are compiled in, built once per renderer: the standard library,
//! the embedded font and the templates are shared; only `/data.json` and the date differ per
//! compile. Documents are compiled [`TOGETHER`] at a time — `templates/documents.typ` lays
//! them out one after another, each from a page of its own — and each one's pages are then
//! exported as a PDF of its own: one compile of sixteen documents costs about 60 % of sixteen
//! compiles, and a document's bytes do not depend on its neighbours (unit test). A group whose
//! compile fails is rendered a document at a time, so one document's failure names it and
//! spares the others. File ids are interned for the life of the process (at most 65,536), so
//! every compile reuses the same fixed virtual paths; the memo cache is process-wide, so it is
//! evicted after every batch to keep memory flat over thousands of documents.

use super::{Document, DocumentError, Template, BATCHED, COMMON};
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Content, Datetime, Label, Selector, Smart, Value};
use typst::introspection::{Introspector, MetadataElem};
use typst::model::DocumentInfo;
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::text::{Lang, Locale};
use typst::utils::LazyHash;
use typst::utils::PicoStr;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

/// The Japanese font every document embeds (IPAexGothic, IPA Font License; see
/// `data/fonts/`).
pub(super) const FONT: &[u8] = include_bytes!("../../../data/fonts/ipaexg.ttf");

/// The virtual file a document's data is read from.
const DATA: &str = "/data.json";

/// How many documents are compiled in one go (one core's share of a batch).
const TOGETHER: usize = 16;

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
    main: FileId,
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
            .chain([COMMON, BATCHED])
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
            main: file_id(&format!("/{}", BATCHED.0)),
            data: file_id(DATA),
        }
    }

    /// Each document's PDF, in the order given.
    pub fn render(&self, documents: &[Document]) -> Vec<Rendered> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut out = Vec::with_capacity(documents.len());
        for batch in documents.chunks(BATCH) {
            let groups: Vec<&[Document]> = batch.chunks(TOGETHER).collect();
            let next = AtomicUsize::new(0);
            let mut done: Vec<(usize, Vec<Rendered>)> = std::thread::scope(|scope| {
                let threads: Vec<_> = (0..workers.min(groups.len()))
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                let Some(group) = groups.get(i) else {
                                    return mine;
                                };
                                mine.push((i, self.render_group(group)));
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
            out.extend(done.into_iter().flat_map(|(_, pdfs)| pdfs));
            typst::comemo::evict(0);
        }
        out
    }

    /// The PDFs of documents compiled together; when the compile fails, of each document
    /// compiled alone, so that the error names its document.
    fn render_group(&self, group: &[Document]) -> Vec<Rendered> {
        match self.compile(group) {
            Ok(documents) => group
                .iter()
                .zip(documents)
                .map(|(document, compiled)| export(document, &compiled))
                .collect(),
            Err(message) if group.len() == 1 => vec![Err(failed(&group[0], message))],
            Err(_) => group
                .iter()
                .flat_map(|document| self.render_group(std::slice::from_ref(document)))
                .collect(),
        }
    }

    /// `group` laid out by `documents.typ`, cut into one paged document each.
    fn compile(&self, group: &[Document]) -> Result<Vec<PagedDocument>, String> {
        let world = DocumentWorld {
            renderer: self,
            main: self.main,
            data: Bytes::new(batch_data(group)),
            today: group[0].issue_date,
        };
        let messages = |diagnostics: &[SourceDiagnostic]| {
            diagnostics
                .iter()
                .map(|d| d.message.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let laid_out: PagedDocument = typst::compile(&world).output.map_err(|e| messages(&e))?;
        let marks = document_marks(&laid_out);
        if marks.len() != group.len() {
            return Err(format!(
                "{} documents laid out, {} marked <document> (a template must use document-page)",
                group.len(),
                marks.len()
            ));
        }
        let pages = laid_out.pages();
        let ends = marks
            .iter()
            .skip(1)
            .map(|m| m.first_page)
            .chain([pages.len()]);
        Ok(marks
            .iter()
            .zip(ends)
            .map(|(mark, end)| {
                let info = DocumentInfo {
                    title: Some(mark.title.clone().into()),
                    author: vec![mark.author.clone().into()],
                    locale: Smart::Custom(Locale::new(Lang::JAPANESE, None)),
                    ..DocumentInfo::default()
                };
                PagedDocument::new(pages[mark.first_page..end].iter().cloned().collect(), info)
            })
            .collect())
    }
}

/// The batch's `/data.json`: `[{"template": …, "data": …}, …]`, each document's data as it is.
fn batch_data(group: &[Document]) -> Vec<u8> {
    let mut json = b"[".to_vec();
    for (i, document) in group.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(b"{\"template\":\"");
        json.extend_from_slice(document.template.name().as_bytes());
        json.extend_from_slice(b"\",\"data\":");
        json.extend_from_slice(&document.data);
        json.push(b'}');
    }
    json.push(b']');
    json
}

/// Where a document of a batch begins (`<document>`, set by `document-page`), with its
/// title and author.
struct Mark {
    first_page: usize,
    title: typst::foundations::Str,
    author: typst::foundations::Str,
}

fn document_marks(laid_out: &PagedDocument) -> Vec<Mark> {
    let label = Label::new(PicoStr::intern("document")).expect("a valid label");
    let introspector = laid_out.introspector();
    introspector
        .query(&Selector::Label(label))
        .iter()
        .filter_map(|mark: &Content| {
            let page = introspector.page(mark.location()?)?;
            let value = &mark.to_packed::<MetadataElem>()?.value;
            let text = |key: &str| match value {
                Value::Dict(fields) => match fields.get(key) {
                    Ok(Value::Str(text)) => Some(text.clone()),
                    _ => None,
                },
                _ => None,
            };
            Some(Mark {
                first_page: page.get() - 1,
                title: text("title")?,
                author: text("author")?,
            })
        })
        .collect()
}

fn failed(document: &Document, message: String) -> DocumentError {
    DocumentError::Template {
        file: document.file_name.clone(),
        template: document.template.file(),
        message,
    }
}

/// A document's PDF/A-2b, dated by its issue date and identified by its file name.
fn export(document: &Document, compiled: &PagedDocument) -> Rendered {
    let options = PdfOptions {
        ident: Smart::Custom(document.file_name.clone()),
        timestamp: Some(Timestamp::new_utc(datetime(document.issue_date))),
        standards: PdfStandards::new(&[PdfStandard::A_2b]).expect("PDF/A-2b alone is valid"),
        ..PdfOptions::default()
    };
    typst_pdf::pdf(compiled, &options).map_err(|diagnostics| {
        let message = diagnostics
            .iter()
            .map(|d| d.message.to_string())
            .collect::<Vec<_>>();
        failed(document, message.join("; "))
    })
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
