//! `warbler policy …`: the policy author's loop.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use warbler_guest_sdk::{Input, Outcome, Verdict};

use super::CliError;
use super::backtest::BacktestArgs;
use super::registry::{PullArgs, PushArgs, RegistryArgs};
use super::replay::ReplayArgs;
use crate::case_table::{CaseOutcome, CaseTable, project_files};
use crate::oci::{PolicyRegistry, PulledPolicy};
use crate::policy::{CpuBudget, PolicyRuntime, PolicySource, RuntimeConfig};
use crate::scaffold::Language;

#[derive(Debug, Subcommand)]
pub(super) enum PolicyCommand {
    /// Evaluate one input with a policy and print its verdict.
    ///
    /// Exit codes: 0 a verdict was given, 1 the policy failed to give one
    /// (trap, CPU or memory budget, refusal), 2 the input or policy is bad.
    Eval(EvalArgs),
    /// Describe a policy: its info, configuration schema, imports, exports,
    /// size and digest.
    Inspect(InspectArgs),
    /// Run a case table (inputs and the verdicts they should get) through a
    /// policy and show what differs.
    ///
    /// Exit codes: 0 every case passed, 1 a case failed, 2 the table or the
    /// policy is bad.
    Test(TestArgs),
    /// Create a ready-to-build policy project: the policy, the WIT, a build
    /// script, an example input and a case table.
    New(NewArgs),
    /// Publish a policy component to an OCI registry (the CNCF Wasm
    /// artifact layout) and print its pinned reference (`…@sha256:…`).
    Push(PushArgs),
    /// Fetch a policy from an OCI registry into the local cache, check that
    /// it loads, and print its pinned reference.
    Pull(PullArgs),
    /// Replay every step of a journal through one or more policies: each
    /// step's recorded decision beside theirs, the first divergence and what
    /// the rollout would have done there.
    ///
    /// Exit codes: 0 the replay ran (divergences included), 2 the journal,
    /// a policy or a configuration is bad.
    Replay(ReplayArgs),
    /// Simulate many labelled rollouts (a dataset of journals) with one or
    /// more policies and print, per kind of rollout, how many each promoted,
    /// rolled back or left undecided, and the steps it took.
    ///
    /// Exit codes: 0 the backtest ran, 2 the dataset, a policy or a
    /// configuration is bad.
    Backtest(BacktestArgs),
}

#[derive(Debug, Args)]
pub(super) struct NewArgs {
    /// The policy's name (lowercase letters, digits, dashes); also the
    /// project's folder.
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Language,
    /// The folder to create the project in.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Rust: depend on the guest SDK in this local checkout (e.g.
    /// `warbler/guest-sdk`) instead of the repository.
    #[arg(long)]
    sdk_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct TestArgs {
    /// A policy project folder (its `policy.wasm` and `cases.yaml`), a
    /// `.wasm` component or `builtin:NAME`; the table's `policy:` when
    /// unset.
    policy: Option<String>,
    /// The case table [default: `cases.yaml` in the project folder].
    #[arg(long)]
    cases: Option<PathBuf>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

#[derive(Debug, Args)]
pub(super) struct EvalArgs {
    /// The policy: a `.wasm` component, `oci://REGISTRY/REPOSITORY:TAG` (or
    /// `@sha256:…`) or `builtin:NAME`.
    #[arg(long, short)]
    policy: String,
    /// The input as JSON (see wit/policy.wit); `-` reads standard input.
    #[arg(long, short)]
    input: PathBuf,
    /// How to print the verdict.
    #[arg(long, short, value_enum, default_value_t = Output::Json)]
    output: Output,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    /// The policy: a `.wasm` component, `oci://REGISTRY/REPOSITORY:TAG` (or
    /// `@sha256:…`) or `builtin:NAME`.
    policy: String,
    /// How to print the description.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Output {
    /// Machine-readable JSON.
    Json,
    /// A human summary.
    Text,
}

/// Sandbox bounds, shared by every command that runs a policy.
#[derive(Debug, Args)]
pub(super) struct RuntimeArgs {
    /// CPU budget in fuel units (about one per instruction); reproducible.
    #[arg(long, conflicts_with = "deadline_ms")]
    fuel: Option<u64>,
    /// CPU budget as a wall-clock deadline in milliseconds, instead of fuel.
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Memory cap of the policy, in MiB.
    #[arg(long, default_value_t = 64)]
    memory_mib: usize,
    /// Directory of precompiled policies [default: ~/.cache/warbler].
    #[arg(long, env = "WARBLER_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile the policy in memory without touching the cache.
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl RuntimeArgs {
    /// The client for `oci://` policies; pulls land in `oci/` of the cache
    /// directory (also with --no-cache, which is about compiled code).
    pub(super) fn registry(&self) -> Result<PolicyRegistry, CliError> {
        self.registry.registry(self.cache_dir.clone())
    }

    pub(super) fn runtime(&self) -> Result<PolicyRuntime, CliError> {
        let mut config = RuntimeConfig {
            memory_limit: self.memory_mib << 20,
            max_concurrent_evaluations: 2,
            cache_dir: if self.no_cache {
                None
            } else {
                self.cache_dir
                    .clone()
                    .or_else(RuntimeConfig::default_cache_dir)
            },
            ..RuntimeConfig::default()
        };
        if let Some(fuel) = self.fuel {
            config.cpu = CpuBudget::Fuel(fuel);
        }
        if let Some(ms) = self.deadline_ms {
            config.cpu = CpuBudget::Deadline(Duration::from_millis(ms));
        }
        PolicyRuntime::new(config).map_err(CliError::policy_failed)
    }
}

impl PolicyCommand {
    pub(super) fn run(self) -> Result<(), CliError> {
        match self {
            PolicyCommand::Eval(args) => eval(args),
            PolicyCommand::Inspect(args) => inspect(args),
            PolicyCommand::Test(args) => test(args),
            PolicyCommand::New(args) => new(args),
            PolicyCommand::Push(args) => super::registry::push(args),
            PolicyCommand::Pull(args) => super::registry::pull_command(args),
            PolicyCommand::Replay(args) => super::replay::run(args),
            PolicyCommand::Backtest(args) => super::backtest::run(args),
        }
    }
}

/// A loaded policy and, for an `oci://` reference, what was pulled.
pub(super) struct Loaded {
    pub(super) policy: std::sync::Arc<crate::policy::PolicyPre>,
    pulled: Option<PulledPolicy>,
}

pub(super) fn load(
    reference: &str,
    args: &RuntimeArgs,
    runtime: &PolicyRuntime,
) -> Result<Loaded, CliError> {
    let hint = || {
        let builtins: Vec<String> = PolicySource::builtin_names()
            .map(|n| format!("builtin:{n}"))
            .collect();
        Some(format!(
            "--policy takes a component file (built for wasm32-wasip2), oci://REGISTRY/REPOSITORY:TAG or one of: {}",
            builtins.join(", ")
        ))
    };
    let source: PolicySource = reference
        .parse()
        .map_err(|err| CliError::bad_input(err, hint()))?;
    let (policy, pulled) = match &source {
        PolicySource::Oci(reference) => {
            let pulled = super::registry::pull(&args.registry()?, reference)?;
            let policy = runtime.load_bytes(&pulled.pinned.to_string(), &pulled.wasm);
            (policy, Some(pulled))
        }
        _ => (runtime.load(&source), None),
    };
    Ok(Loaded {
        policy: policy.map_err(|err| CliError::bad_input(err, None))?,
        pulled,
    })
}

fn eval(args: EvalArgs) -> Result<(), CliError> {
    let input = read_input(&args.input)?;
    let runtime = args.runtime.runtime()?;
    let policy = load(&args.policy, &args.runtime, &runtime)?.policy;
    let verdict = policy.evaluate(&input).map_err(CliError::policy_failed)?;
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&verdict).expect("verdicts serialize")
        ),
        Output::Text => println!("{}", summary(&verdict)),
    }
    Ok(())
}

fn read_input(path: &PathBuf) -> Result<Input, CliError> {
    let label = path.display().to_string();
    let text = if label == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the input from standard input")
            .map_err(|err| CliError::bad_input(err, None))?;
        text
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read input file {label}"))
            .map_err(|err| {
                CliError::bad_input(
                    err,
                    Some(
                        "pass an existing JSON file to --input, or `-` for standard input"
                            .to_owned(),
                    ),
                )
            })?
    };
    let deserializer = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let at = if path == "." { String::new() } else { format!(" at `{path}`") };
        CliError::bad_input(
            anyhow::anyhow!("{label} is not a valid policy input{at}: {}", err.inner()),
            Some("the input's fields are documented in wit/policy.wit; examples/inputs/ has complete examples".to_owned()),
        )
    })
}

/// One line: the decision, then each metric's outcome.
fn summary(verdict: &Verdict) -> String {
    let decision = verdict.decision.to_string();
    let metrics: Vec<String> = verdict
        .judgements
        .iter()
        .map(|j| {
            let outcome = match j.outcome {
                Outcome::Pass => "pass",
                Outcome::Fail => "FAIL",
                Outcome::NoData => "NO DATA",
                Outcome::Inconclusive => "inconclusive",
            };
            format!("{} {outcome}", j.metric)
        })
        .collect();
    let score = verdict
        .score
        .map(|s| format!(" (score {s:.2})"))
        .unwrap_or_default();
    if metrics.is_empty() {
        format!("{decision}{score}")
    } else {
        format!("{decision}{score} [{}]", metrics.join(", "))
    }
}

/// The interfaces among a component's export names; language runtimes
/// export helpers of their own (componentize-py an `exports` instance) that
/// say nothing about the policy.
fn interfaces(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|name| name.contains(':'))
        .cloned()
        .collect()
}

/// The contract's imports by name, the WASI ones a language runtime pulls
/// in summed up on one line: the sandbox answers them without granting
/// anything.
fn import_summary(names: &[String]) -> Vec<String> {
    let (wasi, own): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|name| name.starts_with("wasi:"));
    let mut lines: Vec<String> = own.into_iter().cloned().collect();
    if !wasi.is_empty() {
        let mut packages: Vec<&str> = Vec::new();
        for package in wasi
            .iter()
            .filter_map(|name| name.strip_prefix("wasi:")?.split('/').next())
        {
            if !packages.contains(&package) {
                packages.push(package);
            }
        }
        lines.push(format!(
            "{} WASI interfaces ({}), none granted by the sandbox",
            wasi.len(),
            packages.join(", ")
        ));
    }
    lines
}

/// A config schema as the policy wrote it when laid out on lines already,
/// else indented for reading (a JavaScript policy's `JSON.stringify`).
fn pretty_schema(schema: &str) -> String {
    if schema.contains('\n') {
        return schema.to_owned();
    }
    serde_json::from_str::<serde_json::Value>(schema)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|_| schema.to_owned())
}

fn inspect(args: InspectArgs) -> Result<(), CliError> {
    let runtime = args.runtime.runtime()?;
    let Loaded { policy, pulled } = load(&args.policy, &args.runtime, &runtime)?;
    let info = policy.describe().map_err(CliError::policy_failed)?;
    let artifact = pulled.as_ref().map(artifact_report);
    match args.output {
        Output::Json => {
            let mut report = serde_json::json!({
                "source": policy.label(),
                "digest": format!("sha256:{}", policy.digest()),
                "size": policy.size(),
                "info": info,
                "imports": policy.world().imports,
                "exports": policy.world().exports,
            });
            if let Some(artifact) = artifact {
                report["artifact"] = artifact;
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("json serializes")
            );
        }
        Output::Text => {
            let list = |items: &[String], empty: &str| {
                if items.is_empty() {
                    empty.to_owned()
                } else {
                    items.join("\n              ")
                }
            };
            println!("policy        {} {}", info.name, info.version);
            println!("source        {}", policy.label());
            println!("digest        sha256:{}", policy.digest());
            println!("size          {} bytes", policy.size());
            println!("description   {}", info.description);
            println!("metrics       {}", list(&info.required_metrics, "any"));
            println!(
                "baseline      {}",
                if info.needs_baseline {
                    "needed (compares canary with primary)"
                } else {
                    "not needed"
                }
            );
            let world = policy.world();
            println!(
                "exports       {}",
                list(&interfaces(&world.exports), "none")
            );
            println!(
                "imports       {}",
                list(&import_summary(&world.imports), "none")
            );
            println!("config schema {}", pretty_schema(&info.config_schema));
            if let Some(pulled) = &pulled {
                println!("artifact      {}", pulled.pinned);
                println!("layout        {:?}", pulled.artifact.layout);
                println!(
                    "config        {} ({})",
                    pulled.artifact.config.digest, pulled.artifact.config.media_type
                );
                println!(
                    "layer         {} ({})",
                    pulled.artifact.layer.digest, pulled.artifact.layer.media_type
                );
                for (key, value) in &pulled.artifact.annotations {
                    println!("annotation    {key}={value}");
                }
                for signer in &pulled.signers {
                    println!("signed by     {signer}");
                }
            }
        }
    }
    Ok(())
}

/// The artifact's manifest, config and annotations, for `inspect -o json`.
fn artifact_report(pulled: &PulledPolicy) -> serde_json::Value {
    let json = |bytes: &[u8]| {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into()))
    };
    serde_json::json!({
        "reference": pulled.pinned.to_string(),
        "digest": pulled.pinned.digest(),
        "layout": pulled.artifact.layout,
        "manifest": json(&pulled.manifest),
        "config": json(&pulled.config),
        "annotations": pulled.artifact.annotations,
        "signedBy": pulled.signers,
    })
}

fn test(args: TestArgs) -> Result<(), CliError> {
    let folder = args
        .policy
        .as_deref()
        .map(Path::new)
        .filter(|path| path.is_dir());
    let cases_path = match (&args.cases, folder) {
        (Some(cases), _) => cases.clone(),
        (None, Some(folder)) => project_files(folder).1,
        (None, None) => {
            return Err(CliError::bad_input(
                anyhow::anyhow!("no case table given"),
                Some("pass a policy project folder (with cases.yaml) or --cases FILE".to_owned()),
            ));
        }
    };
    let table = CaseTable::read(&cases_path).map_err(|err| CliError::bad_input(err, None))?;
    let reference = match (folder, &args.policy, &table.policy) {
        (Some(folder), _, _) => project_files(folder).0.display().to_string(),
        (None, Some(policy), _) | (None, None, Some(policy)) => policy.clone(),
        (None, None, None) => {
            return Err(CliError::bad_input(
                anyhow::anyhow!("{} names no policy", cases_path.display()),
                Some(
                    "pass the policy (a .wasm file or builtin:NAME) or add `policy:` to the table"
                        .to_owned(),
                ),
            ));
        }
    };
    let runtime = args.runtime.runtime()?;
    let policy = load(&reference, &args.runtime, &runtime)?.policy;
    let mut failed = 0;
    for case in &table.cases {
        match case.run(&policy) {
            CaseOutcome::Passed => println!("✔ {}", case.name),
            CaseOutcome::Failed { mismatches, got } => {
                failed += 1;
                println!("✘ {}", case.name);
                for mismatch in mismatches {
                    println!("    {mismatch}");
                }
                println!("    got: {got}");
            }
            CaseOutcome::Error(err) => {
                failed += 1;
                println!("✘ {}\n    {err}", case.name);
            }
        }
    }
    let total = table.cases.len();
    println!(
        "{total} cases: {} passed, {failed} failed ({})",
        total - failed,
        policy.label()
    );
    if failed > 0 {
        return Err(CliError::policy_failed(anyhow::anyhow!(
            "{failed} of {total} cases failed"
        )));
    }
    Ok(())
}

fn new(args: NewArgs) -> Result<(), CliError> {
    let dir = crate::scaffold::create(&args.dir, &args.name, args.lang, args.sdk_path.as_deref())
        .map_err(|err| CliError::bad_input(err, None))?;
    let toolchain = match args.lang {
        Language::Rust => "rustup target add wasm32-wasip2".to_owned(),
        Language::Python => format!("pip install -r {}", dir.join("requirements.txt").display()),
        Language::Js => "Node.js and npm (build.sh installs componentize-js)".to_owned(),
    };
    println!("created {}", dir.display());
    println!("  toolchain: {toolchain}");
    println!("  build:     sh {}/build.sh", dir.display());
    println!("  test:      warbler policy test {}", dir.display());
    Ok(())
}
