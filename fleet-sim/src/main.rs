//! `ota-fleet-sim`: simulate a fleet against an update server, generate check-in load,
//! or seed devices in bulk (docs/interfaces.md, "ota-fleet-sim").

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use fleet_sim::api::{ServerApi, build_client};
use fleet_sim::cli::{Cli, Command, LoadArgs, SeedArgs, SimulateArgs};
use fleet_sim::config_drift::SimulatedConfig;
use fleet_sim::device::FleetConfig;
use fleet_sim::fate::FateRates;
use fleet_sim::load::{self, Target};
use fleet_sim::update::Repository;
use fleet_sim::{fleet, seed};

/// Largest root.json fetched as the trust anchor.
const MAX_ROOT: usize = 512_000;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match (cli.command, cli.simulate) {
            (Some(Command::Load(args)), _) => load(args).await,
            (Some(Command::Seed(args)), _) => seed(args).await,
            (None, Some(args)) => simulate(args).await,
            (None, None) => bail!("nothing to do: pass --server URL ... or a subcommand (--help)"),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn simulate(args: SimulateArgs) -> anyhow::Result<bool> {
    if args.failure_rate + args.rollback_rate > 1.0 {
        bail!("--failure-rate plus --rollback-rate is more than 100%");
    }
    let addresses: Vec<Option<std::net::IpAddr>> = match args.source_addresses.is_empty() {
        true => vec![None],
        false => args.source_addresses.iter().copied().map(Some).collect(),
    };
    let mut apis = Vec::new();
    for address in addresses {
        let client = build_client(args.timeout, address, args.ca_file.as_deref())
            .context("building the HTTP client")?;
        apis.push(ServerApi::new(client, &args.server));
    }
    let temp = tempfile::tempdir().context("creating a work directory")?;
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&work_dir).context("creating the work directory")?;
    let anchor = match &args.root {
        Some(root) => root.clone(),
        None => {
            let bytes = apis[0]
                .get_bytes("/metadata/1.root.json", MAX_ROOT)
                .await
                .context("fetching the server's first root")?;
            let path = work_dir.join("root.json");
            std::fs::write(&path, bytes).context("saving the root")?;
            path
        }
    };
    if let Some(dir) = &args.tokens_dir {
        std::fs::create_dir_all(dir).context("creating the keys directory")?;
    }
    let url = reqwest::Url::parse(apis[0].base()).context("--server is not a URL")?;
    let until_idle = args.until_idle || args.duration.is_none();
    let config_state = args
        .config_profile
        .as_deref()
        .map(|path| SimulatedConfig::load(path, args.config_drift_rate, args.seed))
        .transpose()?;
    let config = FleetConfig {
        id_prefix: args.id_prefix,
        class: args.class,
        hardware_id: args.hardware,
        from_version: args.from_version,
        apis,
        repository: Repository::new(&url, anchor)?,
        admin_token: args
            .token
            .or_else(|| std::env::var("OTA_ADMIN_TOKEN").ok())
            .unwrap_or_default(),
        enroll: args.enroll,
        tokens_dir: args.tokens_dir,
        work_dir,
        rates: FateRates {
            failure: args.failure_rate,
            rollback: args.rollback_rate,
            seed: args.seed,
        },
        config: config_state,
        poll_interval: args.poll_interval,
        until_idle,
        deadline: args.duration.map(|d| tokio::time::Instant::now() + d),
    };
    let run = fleet::run(config, args.devices, args.concurrency, Some(args.progress)).await?;
    println!("{}", run.stats.progress_line(run.elapsed.as_secs_f64()));
    println!("\n{}", run.stats.summary(run.elapsed.as_secs_f64()));
    Ok(run.all_clean(until_idle))
}

async fn load(args: LoadArgs) -> anyhow::Result<bool> {
    let client = build_client(
        std::time::Duration::from_secs(30),
        None,
        args.ca_file.as_deref(),
    )?;
    let target = match (&args.static_url, &args.server, &args.devices_file) {
        (Some(url), _, _) => Target::Static { url: url.clone() },
        (None, Some(server), Some(file)) => {
            let devices = seed::read_devices_file(file)?;
            if devices.is_empty() {
                bail!("{} lists no devices", file.display());
            }
            Target::check_ins(server, &devices, &args.hardware, &args.version)?
        }
        _ => bail!("pass --server and --devices-file, or --static-url"),
    };
    let result = load::run(client, target, args.connections, args.duration).await;
    println!("{}", result.line());
    Ok(result.errors == 0 && result.requests > 0)
}

async fn seed(args: SeedArgs) -> anyhow::Result<bool> {
    let started = Instant::now();
    let prefix = args.id_prefix.clone();
    let ids = (0..args.devices).map(move |i| format!("{prefix}{i:06}"));
    let count = seed::seed(&args.data_dir, &args.class, ids, &args.devices_file).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {count} devices in {secs:.1} s ({:.0}/s) into {}",
        count as f64 / secs.max(f64::EPSILON),
        args.data_dir.display()
    );
    Ok(true)
}
