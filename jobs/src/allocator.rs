//! The process's allocator, chosen by its command: glibc's malloc for `kakin ingest`, mimalloc
//! (version 2, without transparent huge pages: the workspace's `Cargo.toml` says why) for every
//! other command.
//!
//! mimalloc makes the close, the refresh and the documents faster: polars and typst allocate
//! and free millions of small buffers across threads (the close of 1,000 key-chips 0.65 → 0.49 s
//! with glibc's malloc → mimalloc, its documents 0.51 → 0.33 s). The ingest is as fast with
//! either, but mimalloc holds on to what the ingest frees, so that a night's peak memory grew
//! with its size: a 10 × night's peak 117–136 MiB with mimalloc, 96–100 MiB with glibc's
//! (`benches/README.md`, session 27).
//!
//! The choice is made at the process's first allocation (before `main`, before any other
//! thread) from `/proc/self/cmdline` read into the stack, and never changes, so that every block
//! is freed by the allocator that made it. A command line it cannot read gets mimalloc.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

pub struct ByCommand;

const UNDECIDED: u8 = 0;
const MIMALLOC: u8 = 1;
const SYSTEM: u8 = 2;

static CHOSEN: AtomicU8 = AtomicU8::new(UNDECIDED);

/// Whether this process allocates with glibc's malloc.
fn system() -> bool {
    match CHOSEN.load(Ordering::Relaxed) {
        UNDECIDED => {
            let chosen = match command(&command_line()) {
                Some(b"ingest") => SYSTEM,
                _ => MIMALLOC,
            };
            CHOSEN.store(chosen, Ordering::Relaxed);
            chosen == SYSTEM
        }
        chosen => chosen == SYSTEM,
    }
}

/// `/proc/self/cmdline` (its first 4 KiB, which hold the command): the arguments, each ended by
/// a zero byte. Read without allocating; empty when it cannot be read.
fn command_line() -> ([u8; 4096], usize) {
    let mut line = [0u8; 4096];
    // SAFETY: a path ended by a zero byte, a buffer of the length given, the file closed once.
    let read = unsafe {
        let file = libc::open(
            c"/proc/self/cmdline".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if file < 0 {
            return (line, 0);
        }
        let read = libc::read(file, line.as_mut_ptr().cast(), line.len());
        libc::close(file);
        read
    };
    (line, usize::try_from(read).unwrap_or(0))
}

/// The command of a command line (`cli.rs`): the first argument after the program's name that
/// is neither an option nor the value of a global option.
fn command((line, length): &([u8; 4096], usize)) -> Option<&[u8]> {
    let line = &line[..*length];
    let mut arguments = line
        .strip_suffix(&[0])
        .unwrap_or(line)
        .split(|b| *b == 0)
        .skip(1);
    while let Some(argument) = arguments.next() {
        match argument {
            b"--config" | b"--wait" => {
                arguments.next();
            }
            option if option.starts_with(b"-") => {}
            command => return Some(command),
        }
    }
    None
}

// SAFETY: each call goes to the one allocator this process chose, which made every block.
unsafe impl GlobalAlloc for ByCommand {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if system() {
            System.alloc(layout)
        } else {
            mimalloc::MiMalloc.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if system() {
            System.alloc_zeroed(layout)
        } else {
            mimalloc::MiMalloc.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if system() {
            System.dealloc(block, layout)
        } else {
            mimalloc::MiMalloc.dealloc(block, layout)
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        if system() {
            System.realloc(block, layout, size)
        } else {
            mimalloc::MiMalloc.realloc(block, layout, size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command_of(arguments: &[&str]) -> Option<String> {
        let mut line = [0u8; 4096];
        let mut length = 0;
        for argument in arguments {
            line[length..length + argument.len()].copy_from_slice(argument.as_bytes());
            length += argument.len() + 1;
        }
        command(&(line, length)).map(|c| String::from_utf8(c.to_vec()).unwrap())
    }

    #[test]
    fn the_command_is_found_after_the_global_options_and_their_values() {
        let ingest = Some("ingest".to_owned());
        assert_eq!(
            command_of(&["kakin", "ingest", "--date", "2026-10-08"]),
            ingest
        );
        assert_eq!(
            command_of(&["kakin", "--config", "ingest", "close"]).unwrap(),
            "close"
        );
        assert_eq!(command_of(&["kakin", "--wait", "60", "ingest"]), ingest);
        assert_eq!(command_of(&["kakin", "--config=k.toml", "ingest"]), ingest);
        assert_eq!(command_of(&["/usr/bin/kakin", "--help"]), None);
        assert_eq!(command_of(&[]), None);
    }

    #[test]
    fn this_process_reads_its_own_command_line() {
        let line = command_line();
        assert!(line.1 > 0, "/proc/self/cmdline is readable");
        assert_eq!(system(), command(&line) == Some(b"ingest"));
    }
}
