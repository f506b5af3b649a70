#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    logferry::cli::main()
}

/// Runs before `main`, before the first allocation (an ELF constructor), to set mimalloc's
/// options:
/// - It commits its arenas eagerly by default: 7.5 MB of resident memory at idle, and a fast
///   file read peaked at 80 MB. Committing on demand must be chosen before the first arena
///   exists.
/// - v3 (what libmimalloc-sys builds unless its `v2` feature is on) returns freed pages to
///   the system a second after they are freed, and meanwhile takes fresh ones. In
///   interleaved w1 runs (syslog over TCP into a file, two workers), peaks fell from
///   15.8–25.8 MB (medians 22.5 and 20.9) to 15.6–21.9 MB (medians 18.9 and 19.4; 2 of 20
///   runs above 20) with 25 ms, at the same rate and CPU. Sooner costs CPU where big
///   buffers come and go: with 10 ms, OTLP in → OTLP out took 20–30 % more CPU per record
///   (25 ms: within noise); with 1 ms w1 took 20 % more, immediately 50 % more.
///   `MIMALLOC_PURGE_DELAY` still overrides it.
#[cfg(all(feature = "mimalloc", target_os = "linux"))]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

#[cfg(all(feature = "mimalloc", target_os = "linux"))]
extern "C" fn tune_allocator() {
    // mimalloc `mi_option_t` (mimalloc.h, the same in v2 and v3, which libmimalloc-sys
    // builds): arena_eager_commit = 4, purge_delay = 15 (milliseconds).
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets global allocator options before any thread or allocation exists.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set_default(PURGE_DELAY, 25);
    }
}
