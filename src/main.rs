#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    logferry::cli::main()
}

/// Runs before `main`, before the first allocation (an ELF constructor). mimalloc commits
/// its arenas eagerly by default: 7.5 MB of resident memory at idle, and a fast file read
/// peaked at 80 MB. Committing on demand must be chosen before the first arena exists.
///
/// mimalloc v3 (what libmimalloc-sys builds) also keeps freed pages for 1 s before giving
/// them back (v2 waited 10 ms). Records are made on an input's thread and freed on an
/// output's, so at a million records a second that second of freed pages was most of the
/// peak: syslog TCP into a file, 1M messages, peaked at a median 26 MB (19–32), and at 21 MB
/// (16–24) with 10–50 ms. Shorter costs CPU where big buffers come and go: OTLP in → OTLP
/// out took 3.2–3.5 CPU-s per million records at 10 ms, 3.0–3.2 at 50 ms, 2.8–3.0 at 1 s.
/// `MIMALLOC_PURGE_DELAY` still overrides it.
#[cfg(all(feature = "mimalloc", target_os = "linux"))]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

#[cfg(all(feature = "mimalloc", target_os = "linux"))]
extern "C" fn tune_allocator() {
    // mimalloc `mi_option_t` (mimalloc.h of v3, which libmimalloc-sys builds; the same
    // indices in v2): arena_eager_commit = 4, purge_delay = 15.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a global allocator option before any thread or allocation exists.
    unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) };
    // Allocates (the variable's copy), so only once on-demand commit is set.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: as above; no other thread exists yet.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 50) };
    }
}
