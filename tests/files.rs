use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{init_pki, otelpki};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Keys are 0600 and certificates 0644 whatever the umask, and a new DIR is 0700.
#[test]
fn modes() {
    let (_tmp, dir) = init_pki(&[]);
    assert_eq!(mode(&dir), 0o700);
    for name in ["ca", "server", "client"] {
        assert_eq!(mode(&dir.join(format!("{name}.key"))), 0o600, "{name}.key");
        assert_eq!(mode(&dir.join(format!("{name}.crt"))), 0o644, "{name}.crt");
    }
    // A directory the user made keeps its mode.
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("own");
    std::fs::create_dir(&own).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
    otelpki(&own).arg("init").assert().success();
    assert_eq!(mode(&own), 0o755);
}

/// A key file is 0600 from its first byte: with a permissive umask (000), no window exists in
/// which the key is readable by others, because the temporary file is created 0600.
#[test]
fn keys_are_private_under_a_permissive_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let bin = assert_cmd::cargo::cargo_bin!("otelpki");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000 && exec '{}' --dir '{}' init",
            bin.display(),
            dir.display()
        ))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&dir.join("server.key")), 0o600);
}

fn listing(dir: &Path) -> Vec<String> {
    crate::common::file_names(dir)
}

/// Without --force nothing is replaced; with it the pair is replaced; no temporary files remain.
#[test]
fn overwrite_needs_force() {
    let (_tmp, dir) = init_pki(&[]);
    let old_key = std::fs::read(dir.join("server.key")).unwrap();
    let old_crt = std::fs::read(dir.join("server.crt")).unwrap();
    otelpki(&dir)
        .args(["issue", "server", "--san", "other"])
        .assert()
        .code(2);
    assert_eq!(std::fs::read(dir.join("server.key")).unwrap(), old_key);
    assert_eq!(std::fs::read(dir.join("server.crt")).unwrap(), old_crt);

    otelpki(&dir)
        .args(["issue", "server", "--san", "other", "--force"])
        .assert()
        .success();
    assert_ne!(std::fs::read(dir.join("server.key")).unwrap(), old_key);
    assert_ne!(std::fs::read(dir.join("server.crt")).unwrap(), old_crt);
    assert_eq!(
        mode(&dir.join("server.key")),
        0o600,
        "--force keeps the key private"
    );
    assert_eq!(
        listing(&dir),
        [
            "ca.crt",
            "ca.key",
            "client.crt",
            "client.key",
            "server.crt",
            "server.key"
        ]
    );
}

/// Two processes racing for the same name: exactly one wins, the other says "already exists",
/// and the pair on disk belongs together. RSA-3072 keys make generation slow enough that both
/// pass the early check and meet at the atomic publish.
#[test]
fn racing_for_a_name_one_wins() {
    let (_tmp, dir) = init_pki(&[]);
    let bin = assert_cmd::cargo::cargo_bin!("otelpki");
    for round in 0..6 {
        let name = format!("race{round}");
        let spawn = || {
            Command::new(bin)
                .env_remove("OTELPKI_DIR")
                .arg("--dir")
                .arg(&dir)
                .args([
                    "issue",
                    "client",
                    "--cn",
                    "racer",
                    "--key-type",
                    "rsa-3072",
                    "--name",
                    &name,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let wins = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(wins, 1, "round {round}: {outs:?}");
        let loser = outs.iter().find(|o| !o.status.success()).unwrap();
        assert_eq!(loser.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&loser.stderr).contains("already exists"),
            "{loser:?}"
        );
        let (ok, key_pub) =
            crate::common::openssl_in(&dir, &["pkey", "-in", &format!("{name}.key"), "-pubout"]);
        assert!(ok);
        let (ok, crt_pub) = crate::common::openssl_in(
            &dir,
            &["x509", "-in", &format!("{name}.crt"), "-noout", "-pubkey"],
        );
        assert!(ok);
        assert_eq!(
            key_pub, crt_pub,
            "round {round}: the pair on disk does not match"
        );
    }
    assert!(
        listing(&dir).iter().all(|f| !f.starts_with(".otelpki-")),
        "temporary files left: {:?}",
        listing(&dir)
    );
}

/// `otelpki recover` says what it did: nothing, stray temporary files removed, or an
/// interrupted batch completed from its commit record (which it then removes).
#[test]
fn recover_says_what_it_did() {
    let (_tmp, dir) = init_pki(&[]);
    let said = |expected: String| {
        otelpki(&dir)
            .arg("recover")
            .assert()
            .success()
            .stdout(expected);
    };
    said(format!("nothing to recover in {}\n", dir.display()));
    std::fs::write(dir.join(".otelpki-stray.tmp"), "half a key").unwrap();
    said(format!(
        "recovered {}: completed 0 interrupted write(s), removed 1 temporary file(s)\n",
        dir.display()
    ));
    // a record whose temporary file is still there: renamed into place
    std::fs::write(dir.join(".otelpki-new.tmp"), "rolled forward").unwrap();
    std::fs::write(
        dir.join(".otelpki-r.commit"),
        ".otelpki-new.tmp\tnotes.txt\tcreate\n",
    )
    .unwrap();
    said(format!(
        "recovered {}: completed 1 interrupted write(s), removed 0 temporary file(s)\n",
        dir.display()
    ));
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "rolled forward"
    );
    assert!(
        !listing(&dir).iter().any(|n| n.starts_with(".otelpki-")),
        "{:?}",
        listing(&dir)
    );
    said(format!("nothing to recover in {}\n", dir.display()));
}
