//! The global allocator of policies built for `wasm32-unknown-unknown`.
//!
//! Rust's default allocator there takes every byte of heap with
//! `memory.grow`, even when the module was linked with free initial memory.
//! Each fresh policy instance would then grow its memory, and the host pays
//! for that with `mprotect` calls on every decision. This allocator (talc)
//! first claims the initial memory above the linked data and stack, and grows
//! memory only once that is used up — what wasi-libc's `malloc` does for
//! `wasm32-wasip2` builds.

use core::alloc::Layout;
use core::arch::wasm32;

use talc::base::Talc;
use talc::base::binning::Binning;
use talc::cell::TalcSyncCell;
use talc::source::Source;
use talc::wasm::WasmBinning;

const PAGE: usize = 64 * 1024;
/// Grow by at least 1 MiB at a time, so that a large input costs a few
/// `memory.grow` calls rather than one per allocation.
const MIN_GROWTH_PAGES: usize = 16;

/// Claims the initial memory first, then grows memory as needed.
#[derive(Debug)]
pub struct InitialMemoryThenGrow {
    initial_claimed: bool,
}

// SAFETY: `acquire` only hands talc memory nothing else uses (the initial
// memory above `__heap_base`, or pages just grown) and never allocates.
unsafe impl Source for InitialMemoryThenGrow {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        if !talc.source.initial_claimed {
            talc.source.initial_claimed = true;
            unsafe extern "C" {
                /// Where the linker ends the stack and static data.
                static __heap_base: u8;
            }
            let base = (&raw const __heap_base).cast_mut();
            let end = wasm32::memory_size(0) * PAGE;
            if let Some(size) = end.checked_sub(base as usize).filter(|size| *size > 0)
                // SAFETY: [base, end) is linear memory no one else uses.
                && unsafe { talc.claim(base, size) }.is_some()
            {
                return Ok(());
            }
        }
        let pages = (layout.size() + layout.align() + 1024)
            .div_ceil(PAGE)
            .max(MIN_GROWTH_PAGES);
        let previous = wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return Err(());
        }
        // SAFETY: the pages were just grown and are unused.
        unsafe { talc.claim((previous * PAGE) as *mut u8, pages * PAGE) }
            .map(|_| ())
            .ok_or(())
    }
}

#[global_allocator]
static ALLOCATOR: TalcSyncCell<InitialMemoryThenGrow, WasmBinning> =
    TalcSyncCell::new_wasm(InitialMemoryThenGrow {
        initial_claimed: false,
    });
