//! The Rust U-Boot environment against the real tools: `mkenvimage` (u-boot-tools) and
//! libubootenv's `fw_printenv`/`fw_setenv` (libubootenv-tool), on files, with `-c CONFIG`
//! so nothing system-wide is read. Each side reads what the other wrote: single and
//! redundant layouts, several sizes, offsets, two files, torn copies, and the backend's
//! boot-counting sequence.

#[path = "uboot_compat/tools.rs"]
mod tools;

use std::fs;

use tools::{Env, Layout, initial, layouts, run, run_ok, vars};
use update_client::bootloader::Bootloader;
use update_client::bootloader::uboot::UbootBootloader;
use update_client::config::{RedundantFlags, UbootConfig};
use update_core::api::Slot;

#[test]
fn what_rust_writes_fw_printenv_reads() {
    for (name, size, layout) in layouts() {
        let env = Env::new(size, layout, &[]);
        assert_eq!(env.rust_read(), initial(), "{name}: Rust reads mkenvimage");
        env.rust_set(
            RedundantFlags::Counter,
            &[
                ("ota_slot", "B"),
                ("new", "a b=c; d"),
                ("upgrade_available", "1"),
            ],
        );
        let mut expected = initial();
        expected.extend(vars(&[
            ("ota_slot", "B"),
            ("new", "a b=c; d"),
            ("upgrade_available", "1"),
        ]));
        assert_eq!(env.fw_printenv(), expected, "{name}");
        assert_eq!(env.rust_read(), expected, "{name}");
    }
}

#[test]
fn what_fw_setenv_writes_rust_reads() {
    for (name, size, layout) in layouts() {
        let env = Env::new(size, layout, &[]);
        env.fw_setenv("bootargs", "console=ttyS1 quiet");
        env.fw_setenv_script("ota_slot=B\nupgrade_available=1\nbootcount=\nextra=x y\n");
        let rust = env.rust_read();
        assert_eq!(rust, env.fw_printenv(), "{name}");
        assert_eq!(rust["bootargs"], "console=ttyS1 quiet", "{name}");
        assert_eq!(rust["ota_slot"], "B", "{name}");
        assert!(
            !rust.contains_key("bootcount"),
            "{name}: deleted by the script"
        );
    }
}

#[test]
fn mkenvimage_images_with_any_padding_read_as_fw_printenv_reads_them() {
    for extra in [&[][..], &["-p", "0"][..], &["-p", "0x5a"][..]] {
        for layout in [Layout::Single { offset: 0 }, Layout::OneFile { offset: 0 }] {
            let env = Env::new(0x4000, layout, extra);
            assert_eq!(env.rust_read(), initial(), "{extra:?}");
            assert_eq!(env.fw_printenv(), initial(), "{extra:?}");
        }
    }
}

#[test]
fn alternating_writers_agree_on_the_counter_flag_sequence() {
    for layout in [Layout::OneFile { offset: 0x2000 }, Layout::TwoFiles] {
        let env = Env::new(0x4000, layout, &[]);
        let mut flags = vec![env.flags()];
        for round in 0..8 {
            let value = format!("round {round}");
            if round % 2 == 0 {
                env.rust_set(RedundantFlags::Counter, &[("round", &value)]);
            } else {
                env.fw_setenv("round", &value);
            }
            flags.push(env.flags());
            assert_eq!(env.rust_read()["round"], value);
            assert_eq!(env.fw_printenv()["round"], value);
        }
        let expected: Vec<(u8, u8)> = vec![
            (1, 1),
            (1, 2),
            (3, 2),
            (3, 4),
            (5, 4),
            (5, 6),
            (7, 6),
            (7, 8),
            (9, 8),
        ];
        assert_eq!(flags, expected);
    }
}

#[test]
fn boolean_writes_read_the_same_through_fw_printenv() {
    let env = Env::new(0x4000, Layout::OneFile { offset: 0 }, &[]);
    for (round, expected_flags) in [(0, (0, 1)), (1, (1, 0)), (2, (0, 1))] {
        let value = round.to_string();
        env.rust_set(RedundantFlags::Boolean, &[("round", &value)]);
        assert_eq!(env.flags(), expected_flags);
        assert_eq!(env.fw_printenv()["round"], value);
    }
}

#[test]
fn a_corrupted_copy_is_skipped_by_both_and_repaired_by_the_next_rust_write() {
    for newest_corrupted in [true, false] {
        let env = Env::new(0x4000, Layout::OneFile { offset: 0 }, &[]);
        env.fw_setenv("generation", "old"); // copy 2, flags (1, 2)
        env.rust_set(RedundantFlags::Counter, &[("generation", "new")]); // copy 1, (3, 2)
        let (corrupted, good) = if newest_corrupted { (0, 1) } else { (1, 0) };
        env.corrupt(corrupted);
        let survivor = if newest_corrupted { "old" } else { "new" };
        assert_eq!(env.rust_read()["generation"], survivor);
        assert_eq!(env.fw_printenv()["generation"], survivor);

        let good_bytes = env.copy_bytes(good);
        env.rust_set(RedundantFlags::Counter, &[("generation", "repaired")]);
        assert_eq!(
            env.copy_bytes(good),
            good_bytes,
            "the good copy is untouched"
        );
        assert_eq!(env.fw_printenv()["generation"], "repaired");
        // The repaired copy is valid on its own: corrupt the other, fw_printenv still reads it.
        env.corrupt(good);
        assert_eq!(env.fw_printenv()["generation"], "repaired");
    }
}

#[test]
fn both_copies_bad_is_an_error_for_rust_as_for_fw_printenv() {
    let env = Env::new(0x4000, Layout::OneFile { offset: 0 }, &[]);
    env.corrupt(0);
    env.corrupt(1);
    let error = env.rust(RedundantFlags::Counter).read().unwrap_err();
    assert!(
        error.to_string().contains("no valid U-Boot environment"),
        "{error}"
    );
    let output = run("fw_printenv", &["-c", env.config.to_str().unwrap()]);
    assert!(!output.status.success());
}

#[test]
fn the_backend_sequence_as_fw_printenv_sees_it() {
    let env = Env::new(0x20000, Layout::OneFile { offset: 0 }, &[]);
    let cmdline = env.dir.path().join("cmdline");
    fs::write(&cmdline, "root=/dev/mmcblk0p2 ota.slot=A\n").unwrap();
    let config = UbootConfig {
        env_config: env.config.clone(),
        redundant_flags: RedundantFlags::Counter,
        cmdline: cmdline.clone(),
        boot_limit: 2,
    };
    let mut bootloader = UbootBootloader::from_config(&config).unwrap();
    let state = |env: &Env| {
        let all = env.fw_printenv();
        [
            "ota_slot",
            "upgrade_available",
            "bootcount",
            "bootlimit",
            "altbootcmd",
        ]
        .map(|name| all.get(name).cloned().unwrap_or_default())
    };
    let altbootcmd = initial()["altbootcmd"].clone();

    bootloader.try_slot_once(Slot::B).unwrap();
    assert_eq!(state(&env), ["B", "1", "0", "2", altbootcmd.as_str()]);

    // U-Boot boots B and counts; the new system marks itself good.
    env.fw_setenv("bootcount", "1");
    fs::write(&cmdline, "root=/dev/mmcblk0p3 ota.slot=B\n").unwrap();
    assert_eq!(bootloader.booted_slot().unwrap(), Slot::B);
    bootloader.mark_good().unwrap();
    assert_eq!(state(&env), ["B", "0", "0", "2", altbootcmd.as_str()]);

    bootloader.try_slot_once(Slot::A).unwrap();
    assert_eq!(bootloader.primary_slot().unwrap(), Slot::A);
    env.fw_setenv("bootcount", "1");
    bootloader.roll_back_to(Slot::B).unwrap();
    assert_eq!(state(&env), ["B", "0", "0", "2", altbootcmd.as_str()]);
    assert_eq!(bootloader.primary_slot().unwrap(), Slot::B);
    assert_eq!(env.fw_printenv()["quoted"], initial()["quoted"]);
}

#[test]
fn both_writers_wrap_the_counter_from_255_to_0() {
    let env = Env::new(0x4000, Layout::OneFile { offset: 0 }, &[]);
    env.fw_setenv("generation", "1"); // copy 2 current, flags (1, 2)
    let (path, _) = &env.copies[0];
    let mut bytes = fs::read(path).unwrap();
    (bytes[4], bytes[0x4000 + 4]) = (254, 255); // flags are outside the CRC
    fs::write(path, bytes).unwrap();
    assert_eq!(env.fw_printenv()["generation"], "1");

    env.rust_set(RedundantFlags::Counter, &[("generation", "2")]);
    assert_eq!(env.flags(), (0, 255));
    assert_eq!(env.fw_printenv()["generation"], "2", "0 beats 255");
    env.fw_setenv("generation", "3");
    assert_eq!(env.flags(), (0, 1));
    assert_eq!(env.rust_read()["generation"], "3");
}

/// A loop device, detached when dropped.
struct LoopDevice(String);

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = run("losetup", &["-d", &self.0]);
    }
}

/// Block devices: copies addressed back from the device's end (negative offsets, as on
/// eMMC boot partitions). Needs root and a free loop device, so it is opt-in:
/// `cargo test -p update-client --test uboot_compat -- --ignored`.
#[test]
#[ignore = "needs root and a loop device"]
fn a_redundant_environment_at_the_end_of_a_block_device() {
    let files = Env::new(0x4000, Layout::OneFile { offset: 0x38000 }, &[]);
    let (image, _) = &files.copies[0];
    let disk = files.dir.path().join("disk.img");
    let mut bytes = fs::read(image).unwrap();
    bytes.truncate(0x40000); // the copies are the last 0x8000 bytes
    fs::write(&disk, &bytes).unwrap();
    let device = LoopDevice(
        run_ok("losetup", &["-f", "--show", disk.to_str().unwrap()])
            .trim()
            .to_string(),
    );
    let config = files.dir.path().join("block.config");
    let lines = format!("{0} -0x8000 0x4000\n{0} -0x4000 0x4000\n", device.0);
    fs::write(&config, lines).unwrap();
    let env = Env {
        config,
        copies: vec![
            (device.0.clone().into(), 0x38000),
            (device.0.clone().into(), 0x3c000),
        ],
        ..files
    };
    assert_eq!(env.rust_read(), initial());
    env.rust_set(RedundantFlags::Counter, &[("ota_slot", "B")]);
    assert_eq!(env.fw_printenv()["ota_slot"], "B");
    env.fw_setenv("ota_slot", "A");
    assert_eq!(env.rust_read()["ota_slot"], "A");
    assert_eq!(env.flags(), (3, 2));
    drop(device);
}
