//! Resumable target downloads against a scripted HTTP server on 127.0.0.1: dropped
//! connections continue with `Range` and `If-Range`, anything but the exact rest of the
//! same file starts again from zero, and the signed length and hashes decide in the end.

mod support;

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use reqwest::Url;
use support::image;
use support::ranged::{Script, Seen, Serving, serve_file};
use update_client::Error;
use update_client::fetch::HttpClient;
use update_client::tuf::{Kept, Limits, TargetSink, Updater};
use update_core::hash::sha256_hex;
use update_core::schema::{TargetFile, Unrecognized};

const SIZE: usize = 300_000;

/// A sink in memory that may start with bytes kept from an earlier run.
#[derive(Default)]
struct Memory {
    bytes: Vec<u8>,
    kept: usize,
    validator: Option<String>,
    restarts: u32,
    /// The kept bytes were consumed (as a decoding sink does): not handed to the hash.
    consumed: bool,
}

impl TargetSink for Memory {
    fn resume(&mut self, hash: &mut dyn FnMut(&[u8])) -> update_client::Result<Kept> {
        self.bytes.truncate(self.kept);
        if self.consumed {
            return Ok(Kept::Consumed(self.kept as u64));
        }
        hash(&self.bytes);
        Ok(Kept::Hashed(self.kept as u64))
    }

    fn write(&mut self, bytes: &[u8]) -> update_client::Result<()> {
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn restart(&mut self) -> update_client::Result<()> {
        self.bytes.clear();
        self.restarts += 1;
        Ok(())
    }

    fn validator(&self) -> Option<&str> {
        self.validator.as_deref()
    }

    fn set_validator(&mut self, validator: Option<&str>) {
        self.validator = validator.map(str::to_string);
    }
}

fn target_of(bytes: &[u8]) -> TargetFile {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_string(), sha256_hex(bytes));
    TargetFile {
        length: bytes.len() as u64,
        hashes,
        custom: None,
        unrecognized: Unrecognized::new(),
    }
}

fn updater(dir: &Path) -> Updater {
    let http = HttpClient::new(std::time::Duration::from_secs(10), &Default::default()).unwrap();
    let base = Url::parse("http://127.0.0.1:9/").unwrap();
    Updater::new(http, base.clone(), base, dir, None, Limits::default())
}

async fn download(url: &str, target: &TargetFile, sink: &mut Memory) -> update_client::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let url = Url::parse(url).unwrap();
    updater(dir.path())
        .download_resumable(&url, "fw.img", target, sink)
        .await
}

fn etag(bytes: &[u8]) -> Option<String> {
    Some(format!("\"{}\"", sha256_hex(bytes)))
}

fn seen(range: Option<&str>, if_range: Option<&str>, status: u16) -> Seen {
    Seen {
        range: range.map(str::to_string),
        if_range: if_range.map(str::to_string),
        status,
    }
}

#[tokio::test]
async fn dropped_connections_continue_with_range_and_if_range() {
    let file = image(SIZE, 1);
    let mut script = Script::new(file.clone(), Serving::faithful(etag(&file)));
    script.cuts = VecDeque::from([100_000, 50_000]);
    let server = serve_file(script).await;
    let mut sink = Memory::default();

    download(&server.url, &target_of(&file), &mut sink)
        .await
        .unwrap();
    assert_eq!(sink.bytes, file);
    assert_eq!(sink.restarts, 0);
    let tag = etag(&file);
    assert_eq!(
        server.seen(),
        [
            seen(None, None, 200),
            seen(Some("bytes=100000-"), tag.as_deref(), 206),
            seen(Some("bytes=150000-"), tag.as_deref(), 206),
        ]
    );
}

#[tokio::test]
async fn bytes_kept_from_an_earlier_run_are_hashed_and_continued() {
    let file = image(SIZE, 2);
    let server = serve_file(Script::new(file.clone(), Serving::faithful(etag(&file)))).await;
    let mut sink = Memory {
        bytes: file[..123_456].to_vec(),
        kept: 123_456,
        validator: etag(&file),
        ..Memory::default()
    };
    download(&server.url, &target_of(&file), &mut sink)
        .await
        .unwrap();
    assert_eq!(sink.bytes, file);
    let tag = etag(&file);
    assert_eq!(
        server.seen(),
        [seen(Some("bytes=123456-"), tag.as_deref(), 206)]
    );
}

#[tokio::test]
async fn a_consumed_prefix_is_continued_and_bounded_by_the_signed_length() {
    let file = image(SIZE, 3);
    let server = serve_file(Script::new(file.clone(), Serving::faithful(etag(&file)))).await;
    // The kept bytes are not the file's: only the sink could tell (it checks what it
    // decoded); the download still continues after them and enforces the length.
    let mut sink = Memory {
        bytes: vec![0xee; 100_000],
        kept: 100_000,
        validator: etag(&file),
        consumed: true,
        ..Memory::default()
    };
    download(&server.url, &target_of(&file), &mut sink)
        .await
        .unwrap();
    assert_eq!(sink.bytes[100_000..], file[100_000..]);
    assert_eq!(sink.restarts, 0);
    let tag = etag(&file);
    assert_eq!(
        server.seen(),
        [seen(Some("bytes=100000-"), tag.as_deref(), 206)]
    );

    // A server that restarts the file from byte 0 brings the full hash check back.
    let mut script = Script::new(file.clone(), Serving::faithful(etag(&file)));
    script.serving.honor_range = false;
    let server = serve_file(script).await;
    let mut sink = Memory {
        bytes: vec![0xee; 100_000],
        kept: 100_000,
        consumed: true,
        ..Memory::default()
    };
    let mut wrong = target_of(&file);
    wrong.hashes.insert("sha256".into(), sha256_hex(b"other"));
    let refused = download(&server.url, &wrong, &mut sink).await.unwrap_err();
    assert!(matches!(refused, Error::TargetMismatch { .. }), "{refused}");
    assert_eq!(sink.restarts, 1);
}

#[tokio::test]
async fn a_server_ignoring_ranges_sends_the_whole_file_again() {
    let file = image(SIZE, 3);
    let mut serving = Serving::faithful(None);
    serving.honor_range = false;
    let mut script = Script::new(file.clone(), serving);
    script.cuts = VecDeque::from([100_000]);
    let server = serve_file(script).await;
    let mut sink = Memory::default();

    download(&server.url, &target_of(&file), &mut sink)
        .await
        .unwrap();
    assert_eq!(sink.bytes, file);
    assert_eq!(sink.restarts, 1);
    assert_eq!(
        server.seen(),
        [
            seen(None, None, 200),
            seen(Some("bytes=100000-"), None, 200)
        ]
    );
}

#[tokio::test]
async fn a_changed_file_fails_if_range_and_is_judged_by_the_signed_hash() {
    let old = image(SIZE, 4);
    let new = image(SIZE, 5);
    for (signed, accepted) in [(&new, true), (&old, false)] {
        let mut script = Script::new(old.clone(), Serving::faithful(etag(&old)));
        script.cuts = VecDeque::from([100_000]);
        script.next_content = Some((new.clone(), Serving::faithful(etag(&new))));
        let server = serve_file(script).await;
        let mut sink = Memory::default();

        let result = download(&server.url, &target_of(signed), &mut sink).await;
        let seen = server.seen();
        assert_eq!(
            seen[1],
            self::seen(Some("bytes=100000-"), etag(&old).as_deref(), 200)
        );
        if accepted {
            result.unwrap();
            assert_eq!(sink.bytes, new);
            assert_eq!(seen.len(), 2);
        } else {
            let error = result.unwrap_err();
            assert!(matches!(error, Error::TargetMismatch { .. }), "{error}");
            assert_eq!(seen.len(), 2, "a whole-file answer is not retried");
        }
    }
}

#[tokio::test]
async fn a_server_ignoring_if_range_is_caught_by_its_new_validator() {
    let old = image(SIZE, 6);
    let new = image(SIZE, 7);
    let mut ignoring = Serving::faithful(etag(&new));
    ignoring.honor_if_range = false;
    let mut script = Script::new(old.clone(), Serving::faithful(etag(&old)));
    script.cuts = VecDeque::from([100_000]);
    script.next_content = Some((new.clone(), ignoring));
    let server = serve_file(script).await;
    let mut sink = Memory::default();

    download(&server.url, &target_of(&new), &mut sink)
        .await
        .unwrap();
    assert_eq!(sink.bytes, new);
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[1].status, 206, "the changed copy answered the range");
    assert_eq!(seen[2], self::seen(None, None, 200));
}

#[tokio::test]
async fn a_stitched_download_with_a_wrong_hash_starts_over_once() {
    // No validators at all: the change is only visible in the final hash.
    let old = image(SIZE, 8);
    let new = image(SIZE, 9);
    for (signed, accepted) in [(&new, true), (&image(SIZE, 10), false)] {
        let mut script = Script::new(old.clone(), Serving::faithful(None));
        script.cuts = VecDeque::from([100_000]);
        script.next_content = Some((new.clone(), Serving::faithful(None)));
        let server = serve_file(script).await;
        let mut sink = Memory::default();

        let result = download(&server.url, &target_of(signed), &mut sink).await;
        assert_eq!(
            server.seen(),
            [
                seen(None, None, 200),
                seen(Some("bytes=100000-"), None, 206),
                seen(None, None, 200),
            ],
            "one fresh download after the stitched one, never more"
        );
        assert_eq!(sink.restarts, 1);
        assert_eq!(result.is_ok(), accepted, "{result:?}");
        if accepted {
            assert_eq!(sink.bytes, new);
        }
    }
}

#[tokio::test]
async fn a_partial_answer_for_another_range_is_not_appended() {
    let file = image(SIZE, 11);
    let mut skewed = Serving::faithful(etag(&file));
    skewed.content_range_skew = 1;
    let mut script = Script::new(file.clone(), Serving::faithful(etag(&file)));
    script.cuts = VecDeque::from([100_000]);
    script.next_content = Some((file.clone(), skewed));
    let server = serve_file(script).await;
    let mut sink = Memory::default();

    download(&server.url, &target_of(&file), &mut sink)
        .await
        .unwrap();
    assert_eq!(sink.bytes, file);
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!((seen[1].status, seen[2].status), (206, 200));
    assert_eq!(seen[2].range, None);
}

#[tokio::test]
async fn the_signed_length_bounds_every_answer() {
    // The server's file is longer than signed: neither the whole file nor the rest of
    // it after a drop is accepted past the signed length.
    let signed = image(SIZE, 12);
    let mut longer = signed.clone();
    longer.extend_from_slice(&[0x5a; 50_000]);
    let mut script = Script::new(longer, Serving::faithful(None));
    script.cuts = VecDeque::from([100_000]);
    let server = serve_file(script).await;
    let mut sink = Memory::default();

    let error = download(&server.url, &target_of(&signed), &mut sink)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error}");
    assert!(
        sink.bytes.len() <= SIZE,
        "never more than the signed length held"
    );
}

#[tokio::test]
async fn a_connection_that_keeps_dropping_gives_up_after_a_few_retries() {
    let file = image(SIZE, 13);
    let mut script = Script::new(file.clone(), Serving::faithful(etag(&file)));
    script.cuts = VecDeque::from([1000; 20]);
    let server = serve_file(script).await;
    let mut sink = Memory::default();

    let error = download(&server.url, &target_of(&file), &mut sink)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(server.seen().len(), 6, "the first try and five retries");
    assert_eq!(sink.bytes, file[..6000], "what arrived is kept for later");
}
