//! What applying a delta allocates, computed the same way by the generator (to fit the
//! device's budget and declare it in the header) and by the decoder (to refuse a delta
//! whose parameters would make it allocate more than declared).

/// Each buffered read of the delta or the base, and each write of the result.
pub const IO_BUFFER: u64 = 64 << 10;
/// zstd's largest block.
const ZSTD_BLOCK: u64 = 128 << 10;
/// A zstd decompression context's own tables and literal buffer: 95,992 bytes measured
/// with zstd 1.5.7 (`ZSTD_sizeof_DCtx` before any frame), rounded up for other versions.
const ZSTD_CONTEXT: u64 = 112 << 10;
/// The smallest and largest zstd window the decoder accepts.
pub const MIN_WINDOW_LOG: u8 = 10;
pub const MAX_WINDOW_LOG: u8 = 30;

/// What a streaming zstd decoder allocates (`ZSTD_estimateDStreamSize`, measured equal to
/// `ZSTD_sizeof_DCtx` after decoding) for frames whose window is at most `2^window_log`
/// bytes and whose content, if the caller checked it is declared, is at most `content`:
/// its context, an input block, and its window plus two blocks.
pub fn zstd_stream(window_log: u8, content: Option<u64>) -> u64 {
    let window = 1u64 << window_log.min(MAX_WINDOW_LOG);
    let block = window.min(ZSTD_BLOCK);
    let buffer = window + 2 * block + 64;
    let buffer = content.map_or(buffer, |content| buffer.min(content));
    ZSTD_CONTEXT + block + buffer
}

/// The smallest window log whose window holds `len` bytes (at least the zstd minimum).
pub fn window_log_for(len: u64) -> u8 {
    let mut log = MIN_WINDOW_LOG;
    while log < MAX_WINDOW_LOG && (1u64 << log) < len {
        log += 1;
    }
    log
}
