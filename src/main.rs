#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    logferry::cli::main()
}

/// Runs before `main`, before the first allocation (an ELF constructor). mimalloc commits
/// its arenas eagerly by default: 7.5 MB of resident memory at idle, and a fast file read
/// peaked at 80 MB. Committing on demand must be chosen before the first arena exists.
#[cfg(all(feature = "mimalloc", target_os = "linux"))]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

#[cfg(all(feature = "mimalloc", target_os = "linux"))]
extern "C" fn tune_allocator() {
    // mimalloc `mi_option_t` (mimalloc.h, the same in v2 and v3, which libmimalloc-sys
    // builds): arena_eager_commit = 4.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    // SAFETY: sets a global allocator option before any thread or allocation exists.
    unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) };
}
