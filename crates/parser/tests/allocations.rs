//! No allocation per byte of prose or of content: after warm-up, feeding costs no allocation at all
//! when the events are consumed borrowed.

use openbolt_parser::{Event, Parser};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_while(feed: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    feed();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn prose_and_content_in_small_chunks_allocate_nothing() {
    let prose =
        "Some prose with <div> tags, a < b, `inline <code>` and\nnew lines. ".repeat(20_000);
    let body = "  return <li key={i}>{a < b ? '</div>' : i}</li>;\n".repeat(20_000);
    let mut parser = Parser::new();
    let mut bytes_seen = 0usize;
    let mut count = |event: Event<'_>| {
        if let Event::Text(text) | Event::ActionDelta { text, .. } = event {
            bytes_seen += text.len();
        }
    };
    let chunks = |text: &'static str| {
        text.as_bytes()
            .chunks(20)
            .map(|c| std::str::from_utf8(c).expect("ASCII"))
    };
    let prose: &'static str = prose.leak();
    let body: &'static str = body.leak();
    // Warm-up: the body buffer grows to its size once, the held-tag buffer to a tag's size.
    parser.feed_with(
        "<boltArtifact id=\"a\" title=\"A\"><boltAction type=\"file\" filePath=\"f\">",
        &mut count,
    );
    for chunk in chunks(body) {
        parser.feed_with(chunk, &mut count);
    }
    parser.feed_with("</boltAction></boltArtifact>", &mut count);
    for chunk in chunks(&prose[..10_000]) {
        parser.feed_with(chunk, &mut count);
    }
    let prose_allocations = allocations_while(|| {
        for chunk in chunks(prose) {
            parser.feed_with(chunk, &mut count);
        }
    });
    let opening = "<boltArtifact id=\"b\" title=\"B\"><boltAction type=\"file\" filePath=\"g\">";
    parser.feed_with(opening, &mut count);
    let body_allocations = allocations_while(|| {
        for chunk in chunks(body) {
            parser.feed_with(chunk, &mut count);
        }
    });
    assert_eq!(
        prose_allocations,
        0,
        "allocations while feeding {} bytes of prose",
        prose.len()
    );
    assert_eq!(
        body_allocations,
        0,
        "allocations while feeding {} bytes of content",
        body.len()
    );
    assert!(bytes_seen >= prose.len() + 2 * body.len());
}
