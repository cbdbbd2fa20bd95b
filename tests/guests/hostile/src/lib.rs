//! A policy that attacks its sandbox. `config.attack` picks the attack; every
//! attack must end in a typed policy error while the host keeps serving.

use serde::Deserialize;
use warbler_guest_sdk::{
    Input, Judgement, Outcome, Policy, PolicyError, PolicyInfo, Verdict, export_policy,
};

/// The hostile policy.
pub struct Hostile;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    attack: Attack,
    /// Size of the reason string for `huge-output`.
    bytes: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Attack {
    /// Behave: promote.
    #[default]
    None,
    InfiniteLoop,
    MemoryBomb,
    DeepRecursion,
    Panic,
    HugeOutput,
    OpenFile,
    OpenSocket,
    /// Log far more than the host allows, then promote.
    LogFlood,
    /// Hold, reporting the wall clock (ms) and a value that depends on the
    /// random seed std draws from WASI: both must be deterministic.
    Entropy,
    /// Print 200 lines each to stdout and stderr, then advance by
    /// stepWeight (promote at maxWeight): a healthy but chatty policy.
    Chatty,
    /// Hold without a failed check, at every step.
    HoldForever,
    /// Advance to 40 from weight 0, then to half the current weight: a
    /// policy that backs off.
    BackOff,
    /// Walk the weights as `chatty` does, printing nothing, and tell in a
    /// judgement which earlier steps the host gave (their weights and
    /// times): not an attack, a witness of `run.earlier-steps`.
    EarlierSteps,
    /// Ask the host for the earlier steps over and over, keeping every
    /// answer: the import must not be a way around the guest's bounds.
    EarlierStepsFlood,
}

impl Policy for Hostile {
    const READS_EARLIER_STEPS: bool = true;

    fn describe() -> PolicyInfo {
        PolicyInfo::named("hostile", "0.0.0", "Attacks its sandbox; for tests only.")
    }

    fn evaluate(input: &Input) -> Result<Verdict, PolicyError> {
        let config: Config = input.config()?;
        match config.attack {
            Attack::None => Ok(Verdict::promote()),
            Attack::InfiniteLoop => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Attack::MemoryBomb => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Attack::DeepRecursion => Ok(Verdict::advance(recurse(u64::MAX) as u32)),
            Attack::Panic => panic!("hostile policy panics on purpose"),
            Attack::HugeOutput => Ok(Verdict::rollback("x".repeat(config.bytes))),
            Attack::OpenFile => match std::fs::read("/etc/passwd") {
                Ok(_) => Ok(Verdict::promote()),
                Err(err) => Err(PolicyError::Internal(format!("file access denied: {err}"))),
            },
            Attack::OpenSocket => open_socket(),
            Attack::Entropy => {
                use std::hash::BuildHasher;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_err(|err| PolicyError::Internal(err.to_string()))?;
                let random = std::collections::hash_map::RandomState::new().hash_one(42u64);
                Ok(Verdict::wait(format!("{} {random:016x}", now.as_millis())))
            }
            Attack::Chatty => {
                for line in 0..200 {
                    println!("chatty rust: stdout line {line}");
                    eprintln!("chatty rust: stderr line {line}");
                }
                Ok(walk(input))
            }
            Attack::EarlierSteps => {
                let seen: Vec<String> = input
                    .earlier_steps
                    .iter()
                    .map(|step| format!("{}%@{}", step.canary_weight, step.at_ms))
                    .collect();
                Ok(walk(input).with_judgements(vec![Judgement {
                    metric: "earlier-steps".to_owned(),
                    outcome: Outcome::Pass,
                    detail: format!("{} [{}]", seen.len(), seen.join(" ")),
                }]))
            }
            Attack::HoldForever => Ok(Verdict::wait("waiting for more data, forever")),
            Attack::BackOff => Ok(match input.state.canary_weight {
                0 => Verdict::advance(40),
                weight => Verdict::advance(weight / 2),
            }),
            Attack::EarlierStepsFlood => earlier_steps_flood(),
            Attack::LogFlood => {
                for i in 0..100_000 {
                    warbler_guest_sdk::log::info(&format!("flood line {i}"));
                }
                Ok(Verdict::promote())
            }
        }
    }
}

/// Advance by `stepWeight`, promote at `maxWeight`.
fn walk(input: &Input) -> Verdict {
    let analysis = &input.analysis;
    let top = analysis.max_weight.unwrap_or(100);
    let weight = input.state.canary_weight;
    if weight >= top {
        Verdict::promote()
    } else {
        Verdict::advance((weight + analysis.step_weight.unwrap_or(10)).min(top))
    }
}

/// Recursion the optimiser cannot turn into a loop.
fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth - 1).wrapping_add(frame[(depth % 64) as usize])
}

/// Tries a TCP connection to a loopback port through `wasi:sockets`.
#[cfg(target_arch = "wasm32")]
fn open_socket() -> Result<Verdict, PolicyError> {
    use wasip2::sockets::{instance_network, network, tcp_create_socket};
    let denied =
        |err: network::ErrorCode| Err(PolicyError::Internal(format!("socket denied: {err:?}")));
    let socket = match tcp_create_socket::create_tcp_socket(network::IpAddressFamily::Ipv4) {
        Ok(socket) => socket,
        Err(err) => return denied(err),
    };
    let network = instance_network::instance_network();
    let address = network::IpSocketAddress::Ipv4(network::Ipv4SocketAddress {
        port: 9,
        address: (127, 0, 0, 1),
    });
    if let Err(err) = socket.start_connect(&network, address) {
        return denied(err);
    }
    socket.subscribe().block();
    match socket.finish_connect() {
        Ok(_) => Ok(Verdict::promote()),
        Err(err) => denied(err),
    }
}

/// Hoards the host's answers to `run.earlier-steps` until a bound stops it.
#[cfg(target_arch = "wasm32")]
fn earlier_steps_flood() -> Result<Verdict, PolicyError> {
    let mut hoard = Vec::new();
    loop {
        hoard.push(warbler_guest_sdk::__component::bindings::warbler::policy::run::earlier_steps());
        std::hint::black_box(&hoard);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn earlier_steps_flood() -> Result<Verdict, PolicyError> {
    Err(PolicyError::Internal(
        "the host's imports are only attacked from wasm".to_owned(),
    ))
}

#[cfg(not(target_arch = "wasm32"))]
fn open_socket() -> Result<Verdict, PolicyError> {
    Err(PolicyError::Internal(
        "sockets are only attacked from wasm".to_owned(),
    ))
}

export_policy!(Hostile);
