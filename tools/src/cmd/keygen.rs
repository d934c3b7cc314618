//! `ota keygen OUT`: a new ed25519 key pair for one TUF role.

use std::path::PathBuf;

use anyhow::Context;

use crate::keyfile;

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Private key file to create (PKCS#8 PEM, mode 0600); the public key goes to OUT.pub
    pub out: PathBuf,
}

/// Writes the key pair and prints its key id on stdout.
pub fn run(args: &KeygenArgs) -> anyhow::Result<()> {
    let key_id = keyfile::generate(&args.out).context("cannot create the key")?;
    eprintln!(
        "wrote {} (private, mode 0600) and {}",
        args.out.display(),
        keyfile::public_key_path(&args.out).display()
    );
    println!("{key_id}");
    Ok(())
}
