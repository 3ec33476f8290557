//! End-to-end tests of `takeaways batch`, replaying model exchanges recorded from the stand-in
//! (`fixtures/batch/recordings/`, made with `--record`): no model and no network.
//!
//! The recordings were made with
//!
//! ```sh
//! rm -rf fixtures/batch/recordings /tmp/out   # stale recordings only pile up
//! SOURCE_DATE_EPOCH=1764374400 takeaways batch fixtures/writeups -o /tmp/out \
//!     --exclude README.md --record fixtures/batch/recordings --model qwen2.5-coder:0.5b --num-ctx 8192
//! ```
//!
//! against a real model, Qwen2.5-Coder 0.5B on the stand-in (README.md, "Fixtures and
//! recording"). When the prompts, the
//! split or the request body change, record again with that command and review the snapshots.

mod common;
use common::{closed_port_url, takeaways};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use assert_cmd::Command;
use predicates::prelude::*;

const RECORDINGS: &str = "fixtures/batch/recordings";
const WRITEUPS: &str = "fixtures/writeups";

/// The writeups of `fixtures/writeups/` that can be summarized (the others are empty, blank or
/// binary).
const GOOD: &[&str] = &[
    "cloud-expo-crlf.txt",
    "datastore-days-long.md",
    "datentage-hamburg-de.md",
    "devconf-markdown.md",
    "injected-notes.md",
    "meetup-cp1252.md",
    "ops-meetup.html",
    "platform-summit-plain.txt",
    "rustconf-mini.md",
];
const BAD: &[&str] = &["binary.md", "blank.txt", "empty.md"];

/// `takeaways batch DIR -o OUT` replaying `replay`, with the options the recordings were made with.
fn batch(dir: &Path, out: &Path, replay: &Path) -> Command {
    let mut cmd = takeaways();
    cmd.arg("batch")
        .arg(dir)
        .arg("-o")
        .arg(out)
        .args(["--exclude", "README.md", "--replay"])
        .arg(replay)
        .args(["--model", "qwen2.5-coder:0.5b", "--num-ctx", "8192"])
        .args(["--host", &closed_port_url()]);
    cmd
}

/// Every file under `dir` with its modification time and size.
fn files(dir: &Path) -> BTreeMap<PathBuf, (SystemTime, u64)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.metadata().unwrap();
            (
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                (m.modified().unwrap(), m.len()),
            )
        })
        .collect()
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn batch_summarizes_the_good_reports_lists_the_bad_ones_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("wiki");

    // First run: every good writeup is summarized from the recordings, the bad ones are listed.
    let first = batch(Path::new(WRITEUPS), &out, Path::new(RECORDINGS))
        .output()
        .unwrap();
    let err = stderr_of(&first);
    assert_eq!(first.status.code(), Some(1), "{err}");
    assert!(
        err.contains("batch: 12 writeups: 9 summarized, 0 up to date, 3 failed"),
        "{err}"
    );
    let table = &err[err.find("\nFailed:\n").expect(&err)..];
    for bad in BAD {
        assert!(
            table.contains(bad),
            "{bad} not in the failure table:\n{table}"
        );
    }
    assert!(table.contains("binary file"), "{table}");
    assert!(table.contains("nothing to summarize"), "{table}");
    for good in GOOD {
        assert!(!table.contains(good), "{good} failed:\n{err}");
        let stem = Path::new(good).file_stem().unwrap().to_str().unwrap();
        let summary = std::fs::read_to_string(out.join(format!("{stem}.md"))).unwrap();
        assert!(summary.starts_with("# Key takeaways: "), "{summary}");
        assert!(summary.contains("\n1. **"), "{summary}");
        assert!(summary.contains(&format!("Source: `{good}`")), "{summary}");
    }
    assert!(
        err.contains("takeaways: 3 of 12 writeups could not be summarized"),
        "{err}"
    );
    assert!(out.join(".takeaways-batch.json").is_file());

    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    let digest = std::fs::read_to_string(out.join("digest.md")).unwrap();
    insta::assert_snapshot!("index_md", index);
    insta::assert_snapshot!("digest_md", digest);

    // Second run, same command: nothing is summarized or written, no model call is made.
    let before = files(&out);
    let second = batch(Path::new(WRITEUPS), &out, Path::new(RECORDINGS))
        .output()
        .unwrap();
    let err = stderr_of(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "batch: 12 writeups: 0 summarized, 9 up to date, 3 failed; 0 files written; 0 model calls;"
        ),
        "{err}"
    );
    assert_eq!(files(&out), before, "the second run changed files");

    // Proof that no answer is needed at all: with an empty recording directory every call would
    // fail, yet the run is the same.
    let empty = tmp.path().join("no-recordings");
    std::fs::create_dir(&empty).unwrap();
    let third = batch(Path::new(WRITEUPS), &out, &empty).output().unwrap();
    let err = stderr_of(&third);
    assert!(
        err.contains("0 summarized, 9 up to date, 3 failed"),
        "{err}"
    );
    assert_eq!(files(&out), before, "the third run changed files");

    // --force redoes everything: with no recordings, every good writeup now fails.
    let forced = batch(Path::new(WRITEUPS), &out, &empty)
        .arg("--force")
        .output()
        .unwrap();
    let err = stderr_of(&forced);
    assert!(
        err.contains("0 summarized, 0 up to date, 12 failed"),
        "{err}"
    );
    assert!(err.contains("no recording"), "{err}");
}

#[test]
fn batch_json_writes_json_summaries_and_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("json");
    let run = batch(Path::new(WRITEUPS), &out, Path::new(RECORDINGS))
        .args(["--format", "json", "--include", "*.md", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", stderr_of(&run));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let sources: Vec<&str> = index["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            "datastore-days-long.md",
            "datentage-hamburg-de.md",
            "devconf-markdown.md",
            "injected-notes.md",
            "meetup-cp1252.md",
            "rustconf-mini.md"
        ]
    );
    let failed: Vec<&str> = index["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["binary.md", "empty.md"]);
    for r in index["reports"].as_array().unwrap() {
        let summary = out.join(r["summary"].as_str().unwrap());
        assert_eq!(summary.extension().unwrap(), "json");
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
        assert_eq!(s["source"], r["source"]);
        assert!(r["top_takeaways"].as_array().unwrap().len() <= 3);
    }
    let digest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("digest.json")).unwrap()).unwrap();
    assert_eq!(digest["reports"], 6);
    assert!(!out.join("index.md").exists());
}

/// A tree with nested folders, a space and non-ASCII letters in names, hidden files, a folder to
/// exclude, a symbolic link loop, and the output folder inside the input folder.
#[test]
#[cfg(unix)]
fn batch_mirrors_the_tree_and_skips_what_it_should() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("reports");
    let deep = input.join("2025").join("Ferrous Harbour – Zürich");
    std::fs::create_dir_all(&deep).unwrap();
    // The same bytes as a recorded writeup: its recorded answers replay under any name.
    std::fs::copy(
        Path::new(WRITEUPS).join("rustconf-mini.md"),
        deep.join("notes day 1.md"),
    )
    .unwrap();
    std::fs::copy(
        Path::new(WRITEUPS).join("meetup-cp1252.md"),
        input.join("leeds.md"),
    )
    .unwrap();
    for hidden in [".draft.md", ".git/notes.md"] {
        let p = input.join(hidden);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "# Hidden\n\nnot a report\n").unwrap();
    }
    std::fs::create_dir_all(input.join("drafts")).unwrap();
    std::fs::write(input.join("drafts/wip.md"), "# WIP\n\nnot yet\n").unwrap();
    std::fs::write(input.join("photo.png"), [0x89, b'P', b'N', b'G', 0]).unwrap();
    std::fs::write(input.join("empty.txt"), "").unwrap();
    std::os::unix::fs::symlink(&input, input.join("2025/loop")).unwrap();
    let out = input.join("wiki");

    let run = |extra: &[&str]| {
        let mut cmd = takeaways();
        cmd.arg("batch")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--exclude", "drafts", "--replay", RECORDINGS])
            .args(["--model", "qwen2.5-coder:0.5b", "--num-ctx", "8192"])
            .args(["--host", &closed_port_url()])
            .args(extra);
        cmd.timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap()
    };
    let first = run(&[]);
    let err = stderr_of(&first);
    assert_eq!(first.status.code(), Some(1), "{err}");
    assert!(
        err.contains("batch: 3 writeups: 2 summarized, 0 up to date, 1 failed"),
        "{err}"
    );
    assert!(err.contains("symbolic link loop"), "{err}");
    assert!(err.contains("empty.txt"), "{err}");
    // One log line per file looked at: `[n/N] path: outcome`.
    let looked: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(looked.len(), 3, "{err}");
    for skipped in ["draft", "notes.md", "wip", "photo", "wiki/", "loop"] {
        assert!(
            !looked.iter().any(|l| l.contains(skipped)),
            "{skipped} was looked at:\n{err}"
        );
    }
    let summary = out.join("2025/Ferrous Harbour – Zürich/notes day 1.md");
    assert!(summary.is_file(), "{err}");
    assert!(out.join("leeds.md").is_file());
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert!(
        index.contains("](2025/Ferrous%20Harbour%20%E2%80%93%20Z%C3%BCrich/notes%20day%201.md)"),
        "{index}"
    );
    assert!(
        index.contains("| `2025/Ferrous Harbour – Zürich/notes day 1.md` |"),
        "{index}"
    );

    // The output folder inside the input folder is not read back as input on the next run.
    let second = run(&[]);
    let err = stderr_of(&second);
    assert!(
        err.contains("batch: 3 writeups: 0 summarized, 2 up to date, 1 failed"),
        "{err}"
    );

    // --include narrows the set; patterns without `/` match names at any depth.
    let only = run(&["--include", "notes*"]);
    let err = stderr_of(&only);
    assert_eq!(only.status.code(), Some(0), "{err}");
    assert!(
        err.contains("batch: 1 writeup: 0 summarized, 1 up to date, 0 failed"),
        "{err}"
    );
}

#[test]
#[cfg(unix)]
fn batch_never_writes_outside_the_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::copy(
        Path::new(WRITEUPS).join("rustconf-mini.md"),
        input.join("sub/rust.md"),
    )
    .unwrap();
    std::fs::copy(
        Path::new(WRITEUPS).join("meetup-cp1252.md"),
        input.join("leeds.md"),
    )
    .unwrap();
    // OUT/sub is a symbolic link to a folder outside OUT.
    let out = tmp.path().join("out");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("sub")).unwrap();

    let run = batch(&input, &out, Path::new(RECORDINGS)).output().unwrap();
    let err = stderr_of(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("leads outside the output folder"), "{err}");
    assert!(out.join("leeds.md").is_file());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn batch_refuses_an_output_folder_that_holds_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.md"), "# A\n\ntext\n").unwrap();
    takeaways()
        .arg("batch")
        .arg(tmp.path())
        .arg("-o")
        .arg(tmp.path())
        .args(["--host", &closed_port_url()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "choose an output folder elsewhere",
        ));
    assert!(!tmp.path().join("index.md").exists());
}

#[test]
fn batch_stops_with_exit_3_when_ollama_is_unreachable() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    takeaways()
        .args(["batch", WRITEUPS, "--exclude", "README.md", "-o"])
        .arg(&out)
        .args([
            "--model",
            "qwen2.5-coder:0.5b",
            "--num-ctx",
            "8192",
            "--quiet",
        ])
        .args(["--host", &closed_port_url()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("the batch stopped"));
}

#[test]
fn batch_help_explains_jobs_and_ollama_parallelism() {
    takeaways()
        .args(["batch", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("OLLAMA_NUM_PARALLEL"))
        .stdout(predicate::str::contains("--include"))
        .stdout(predicate::str::contains("--force"));
}

/// Every file of `dir` with its content.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files(dir)
        .into_keys()
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn more_jobs_give_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, four) = (tmp.path().join("one"), tmp.path().join("four"));
    for (out, jobs) in [(&one, "1"), (&four, "4")] {
        let run = batch(Path::new(WRITEUPS), out, Path::new(RECORDINGS))
            .args(["--jobs", jobs])
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1), "{}", stderr_of(&run));
    }
    let (a, b) = (contents(&one), contents(&four));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a == b, "--jobs 4 wrote different files than --jobs 1");
}

/// The decoded target of every `](…)` link of a Markdown page, as raw path bytes.
#[cfg(unix)]
fn link_targets(page: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for piece in page.split("](").skip(1) {
        let target = &piece[..piece.find(')').unwrap()];
        let mut bytes = Vec::new();
        let mut i = 0;
        let raw = target.as_bytes();
        while i < raw.len() {
            if raw[i] == b'%' {
                bytes.push(u8::from_str_radix(&target[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                bytes.push(raw[i]);
                i += 1;
            }
        }
        out.push(bytes);
    }
    out
}

/// Two names that differ only in bytes that are not UTF-8 (Latin-1 `zoè.md`, `zoé.md`): both
/// summarized into their own files, linked by links that exist, shown escaped, warned about, and
/// a rerun redoes nothing. (The writeup's front matter has a title, so the file name never
/// reaches the prompt and the recorded answers replay.)
#[test]
#[cfg(unix)]
fn batch_keeps_names_that_are_not_utf8_apart() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let names: [&[u8]; 2] = [b"zo\xE8.md", b"zo\xE9.md"];
    for name in names {
        std::fs::copy(
            Path::new(WRITEUPS).join("devconf-markdown.md"),
            input.join(std::ffi::OsStr::from_bytes(name)),
        )
        .unwrap();
    }
    let out = tmp.path().join("out");
    let first = batch(&input, &out, Path::new(RECORDINGS)).output().unwrap();
    let err = stderr_of(&first);
    assert_eq!(first.status.code(), Some(0), "{err}");
    assert!(
        err.contains("batch: 2 writeups: 2 summarized, 0 up to date, 0 failed"),
        "{err}"
    );
    for shown in [r"zo\xE8.md", r"zo\xE9.md"] {
        assert!(
            err.contains(&format!("warning: {shown}: the name is not valid UTF-8")),
            "{err}"
        );
    }
    assert!(!err.contains('\u{FFFD}'), "{err}");
    let written: Vec<Vec<u8>> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_vec())
        .filter(|n| n.starts_with(b"zo"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(written, names.map(<[u8]>::to_vec));
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert!(
        index.contains("](zo%E8.md)") && index.contains("](zo%E9.md)"),
        "{index}"
    );
    assert!(index.contains(r"| `zo\xE8.md` |"), "{index}");
    for target in link_targets(&index) {
        let path = out.join(std::ffi::OsStr::from_bytes(&target));
        assert!(
            path.is_file(),
            "{} does not exist:\n{index}",
            path.display()
        );
    }
    let summary = std::fs::read_to_string(out.join(std::ffi::OsStr::from_bytes(names[1]))).unwrap();
    assert!(summary.contains(r"Source: `zo\xE9.md`"), "{summary}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".takeaways-batch.json")).unwrap())
            .unwrap();
    let keys: Vec<&String> = manifest["reports"].as_object().unwrap().keys().collect();
    assert_eq!(keys, [r"zo\xE8.md", r"zo\xE9.md"]);

    let before = files(&out);
    let second = batch(&input, &out, Path::new(RECORDINGS)).output().unwrap();
    let err = stderr_of(&second);
    assert!(
        err.contains("batch: 2 writeups: 0 summarized, 2 up to date, 0 failed; 0 files written; 0 model calls;"),
        "{err}"
    );
    assert_eq!(files(&out), before, "the rerun changed files");
}

/// `--include` finds `.mkd` files, reaches a `.log` file it names, and a run whose filters leave
/// out every writeup says so, writes nothing and exits 1.
#[test]
fn include_reaches_any_readable_file_and_an_empty_match_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let devconf = Path::new(WRITEUPS).join("devconf-markdown.md");
    std::fs::copy(&devconf, input.join("devconf.mkd")).unwrap();
    std::fs::copy(&devconf, input.join("devconf-notes.log")).unwrap();
    let out = tmp.path().join("out");

    let mkd = batch(&input, &out, Path::new(RECORDINGS))
        .args(["--include", "*.mkd"])
        .output()
        .unwrap();
    let err = stderr_of(&mkd);
    assert_eq!(mkd.status.code(), Some(0), "{err}");
    assert!(err.contains("batch: 1 writeup: 1 summarized"), "{err}");
    assert!(out.join("devconf.md").is_file());

    let log = batch(&input, &out, Path::new(RECORDINGS))
        .args(["--include", "*.log"])
        .output()
        .unwrap();
    let err = stderr_of(&log);
    assert_eq!(log.status.code(), Some(0), "{err}");
    assert!(err.contains("batch: 1 writeup: 1 summarized"), "{err}");
    assert!(out.join("devconf-notes.md").is_file());

    let index_before = std::fs::read(out.join("index.md")).unwrap();
    let none = batch(&input, &out, Path::new(RECORDINGS))
        .args(["--include", "*.rst", "--include", "2024/**"])
        .output()
        .unwrap();
    let err = stderr_of(&none);
    assert_eq!(none.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no writeup matches --include '*.rst' --include '2024/**' --exclude README.md (1 file or folder left out by them)"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("index.md")).unwrap(), index_before);
}
