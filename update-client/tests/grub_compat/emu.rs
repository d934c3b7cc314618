//! The grub.cfg fragment of docs/grub.md, run by real GRUB (`grub-emu` on an ext2 image)
//! against the backend's model of it, for every state the A/B variables can express.
//!
//! One GRUB run handles all states: each state gets its own environment file, and the
//! fragment is repeated once per file with `load_env`/`save_env` pointed at it.

use std::fs;
use std::path::Path;

use update_client::bootloader::grub::{AbState, GrubEnv, MAX_BOOT_LIMIT, SlotState};
use update_core::api::Slot;

use super::run;

const DOC: &str = include_str!("../../../docs/grub.md");
const START: &str = "# --- OTA A/B selection";
const END: &str = "# --- end of OTA A/B selection ---";

/// The fenced `grub` block of docs/grub.md.
fn documented_config() -> &'static str {
    let start = DOC
        .find("```grub\n")
        .expect("docs/grub.md has a ```grub block")
        + 8;
    let len = DOC[start..].find("```").expect("the block ends");
    &DOC[start..start + len]
}

/// The selection part of the fragment, between its markers.
fn selection() -> &'static str {
    let config = documented_config();
    let start = config.find(START).expect("start marker");
    let end = config.find(END).expect("end marker") + END.len();
    &config[start..end]
}

#[test]
fn the_documented_grub_cfg_is_valid_grub_script() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grub.cfg");
    fs::write(&file, documented_config()).unwrap();
    let output = run(
        "grub-script-check",
        "grub-common",
        &[file.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

fn all_states() -> Vec<AbState> {
    let tries = [None, Some(0), Some(1), Some(2), Some(3)];
    let slot_states: Vec<SlotState> = [false, true]
        .into_iter()
        .flat_map(|ok| tries.into_iter().map(move |tries| SlotState { ok, tries }))
        .collect();
    let mut states = Vec::new();
    for first in [Slot::A, Slot::B] {
        for &a in &slot_states {
            for &b in &slot_states {
                for boot_limit in 1..=MAX_BOOT_LIMIT {
                    states.push(AbState {
                        first,
                        a,
                        b,
                        boot_limit,
                    });
                }
            }
        }
    }
    states
}

/// What `save_env` does in a test run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Saves {
    Work,
    /// Point at a file that does not exist, so every `save_env` fails.
    Fail,
}

/// grub.cfg running the selection once per environment file `/grub/states/N`.
fn batch_config(count: usize, saves: Saves) -> String {
    let mut config = String::new();
    for index in 0..count {
        let file = format!("--file /grub/states/{index} ");
        let save_file = match saves {
            Saves::Work => file.clone(),
            Saves::Fail => "--file /grub/missing ".to_string(),
        };
        config.push_str(
            &selection()
                .replace("load_env ", &format!("load_env {file}"))
                .replace("save_env ", &format!("save_env {save_file}")),
        );
        config.push_str(&format!("\necho \"OTA-RESULT {index} =${{ota_slot}}=\"\n"));
    }
    config.push_str("halt\n");
    config
}

/// Runs GRUB once over `envs`; returns the slot each boot chose and the files after it.
fn boot_all(dir: &Path, envs: &[GrubEnv], saves: Saves) -> (Vec<Option<Slot>>, Vec<GrubEnv>) {
    let root = dir.join("root");
    fs::create_dir_all(root.join("grub/states")).unwrap();
    for (index, env) in envs.iter().enumerate() {
        fs::write(
            root.join(format!("grub/states/{index}")),
            env.encode().unwrap(),
        )
        .unwrap();
    }
    fs::write(root.join("grub/grub.cfg"), batch_config(envs.len(), saves)).unwrap();
    let image = dir.join("disk.img");
    let (root_arg, image_arg) = (root.to_str().unwrap(), image.to_str().unwrap());
    let mkfs = ["-q", "-b", "1024", "-d", root_arg, image_arg, "16M"];
    assert!(run("mkfs.ext2", "e2fsprogs", &mkfs).status.success());
    let map = dir.join("device.map");
    fs::write(&map, format!("(hd0) {image_arg}\n")).unwrap();
    let map_arg = map.to_str().unwrap();
    let emu = ["120", "grub-emu", "-m", map_arg, "-r", "hd0", "-d", "/grub"];
    let output = run("timeout", "coreutils", &emu);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "grub-emu failed: {stdout}");

    let mut chosen = vec![None; envs.len()];
    let mut seen = 0;
    for result in stdout.split("OTA-RESULT ").skip(1) {
        let (index, rest) = result.split_once(" =").expect("OTA-RESULT N =slot=");
        let index: usize = index.parse().unwrap();
        chosen[index] = match rest.split('=').next() {
            Some("A") => Some(Slot::A),
            Some("B") => Some(Slot::B),
            Some("") => None,
            other => panic!("state {index}: GRUB chose {other:?}"),
        };
        seen += 1;
    }
    assert_eq!(seen, envs.len(), "one result per state: {stdout}");

    let dump = dir.join("dump");
    fs::create_dir(&dump).unwrap();
    let rdump = format!("rdump /grub/states {}", dump.to_str().unwrap());
    assert!(
        run("debugfs", "e2fsprogs", &["-R", &rdump, image_arg])
            .status
            .success()
    );
    let after = (0..envs.len())
        .map(|index| {
            let block = fs::read(dump.join(format!("states/{index}"))).unwrap();
            GrubEnv::parse(&block).unwrap()
        })
        .collect();
    (chosen, after)
}

#[test]
fn grub_boots_every_state_as_the_model_says() {
    let states = all_states();
    let mut envs: Vec<GrubEnv> = states
        .iter()
        .map(|state| {
            let mut env = GrubEnv::default();
            state.write(&mut env).unwrap();
            env
        })
        .collect();
    // A freshly created block: grub.cfg's defaults must be the model's.
    envs.push(GrubEnv::default());
    let mut expected_states = states.clone();
    expected_states.push(AbState::default());

    let dir = tempfile::tempdir().unwrap();
    let (chosen, after) = boot_all(dir.path(), &envs, Saves::Work);
    for (index, mut model) in expected_states.into_iter().enumerate() {
        let before = model;
        let boot = model.power_on().map(|boot| boot.slot);
        assert_eq!(chosen[index], boot, "state {before:?}");
        let written = AbState::read(&after[index]).unwrap();
        assert_eq!(written, model, "state {before:?} after the boot");
    }
}

#[test]
fn a_try_that_cannot_be_counted_is_not_booted() {
    let trial = SlotState {
        ok: true,
        tries: Some(0),
    };
    let broken = SlotState {
        ok: false,
        tries: None,
    };
    let cases = [(SlotState::COMMITTED, Some(Slot::A)), (broken, None)];
    let envs: Vec<GrubEnv> = cases
        .iter()
        .map(|&(a, _)| {
            let state = AbState {
                first: Slot::B,
                a,
                b: trial,
                boot_limit: 1,
            };
            let mut env = GrubEnv::default();
            state.write(&mut env).unwrap();
            env
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (chosen, after) = boot_all(dir.path(), &envs, Saves::Fail);
    for (index, (_, expected)) in cases.iter().enumerate() {
        assert_eq!(chosen[index], *expected);
        assert_eq!(after[index], envs[index], "nothing saved");
    }
}
