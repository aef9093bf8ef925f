//! The fault catalogue (DESIGN.md §5): every fault the simulator injects, by name, with its rate.

use protocol::FailureStep;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// One kind of fault. Serialized by its command-line name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// A request/reply fails at one of its eight steps.
    Rpc(FailureStep),
    /// A message takes far longer than usual (it may outlive the client's timeout).
    Delay,
    /// Requests and replies of one node overtake each other (no FIFO link).
    Reorder,
    /// The network delivers a request to the registry twice.
    Duplicate,
    /// A group of nodes is cut off from the registry, both ways.
    Partition,
    /// One node's link to the registry loses messages in one direction only.
    OneWay,
    /// One node is cut off from the registry, both ways.
    Isolate,
    /// One node's link goes down and up every few hundred milliseconds.
    Flapping,
    /// A node process dies (its application's access ends with it) and restarts later.
    Crash,
    /// A node process is frozen (GC, SIGSTOP) while its application keeps accessing.
    Pause,
    /// The registry restarts: state is kept, every watch breaks, leases get a fresh ttl.
    RegistryRestart,
    /// One node's watch stream breaks.
    WatchBreak,
    /// The registry forgets old history: watches from before it answer `Compacted`.
    Compaction,
    /// Node clocks run fast or slow, within the assumed drift.
    ClockDrift,
    /// The administrator adds and removes resources.
    AdminChurn,
    /// Nodes leave gracefully and join again.
    Membership,
}

/// How a fault's rate is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateUnit {
    /// Probability per request (or per message).
    PerMessage,
    /// Occurrences per simulated minute.
    PerMinute,
    /// On or off; the rate only scales how far.
    Switch,
}

impl FaultKind {
    /// Every fault, in a fixed order (the order of the schedule's generator streams).
    pub const ALL: [FaultKind; 23] = [
        FaultKind::Rpc(FailureStep::PostRequest),
        FaultKind::Rpc(FailureStep::DeliverRequest),
        FaultKind::Rpc(FailureStep::ValidateRequest),
        FaultKind::Rpc(FailureStep::UpdateServerState),
        FaultKind::Rpc(FailureStep::PostReply),
        FaultKind::Rpc(FailureStep::DeliverReply),
        FaultKind::Rpc(FailureStep::ValidateReply),
        FaultKind::Rpc(FailureStep::UpdateClientState),
        FaultKind::Delay,
        FaultKind::Reorder,
        FaultKind::Duplicate,
        FaultKind::Partition,
        FaultKind::OneWay,
        FaultKind::Isolate,
        FaultKind::Flapping,
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::RegistryRestart,
        FaultKind::WatchBreak,
        FaultKind::Compaction,
        FaultKind::ClockDrift,
        FaultKind::AdminChurn,
        FaultKind::Membership,
    ];

    /// Its position in [`FaultKind::ALL`].
    pub fn index(self) -> usize {
        FaultKind::ALL
            .iter()
            .position(|k| *k == self)
            .expect("ALL lists every kind")
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Rpc(s) => match s {
                FailureStep::PostRequest => "post-request",
                FailureStep::DeliverRequest => "deliver-request",
                FailureStep::ValidateRequest => "validate-request",
                FailureStep::UpdateServerState => "update-server-state",
                FailureStep::PostReply => "post-reply",
                FailureStep::DeliverReply => "deliver-reply",
                FailureStep::ValidateReply => "validate-reply",
                FailureStep::UpdateClientState => "update-client-state",
            },
            FaultKind::Delay => "delay",
            FaultKind::Reorder => "reorder",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Partition => "partition",
            FaultKind::OneWay => "one-way",
            FaultKind::Isolate => "isolate",
            FaultKind::Flapping => "flapping",
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::RegistryRestart => "registry-restart",
            FaultKind::WatchBreak => "watch-break",
            FaultKind::Compaction => "compaction",
            FaultKind::ClockDrift => "clock-drift",
            FaultKind::AdminChurn => "admin-churn",
            FaultKind::Membership => "membership",
        }
    }

    /// How its rate is counted.
    pub fn unit(self) -> RateUnit {
        match self {
            FaultKind::Rpc(_) | FaultKind::Delay | FaultKind::Duplicate => RateUnit::PerMessage,
            FaultKind::Reorder | FaultKind::ClockDrift => RateUnit::Switch,
            _ => RateUnit::PerMinute,
        }
    }

    /// The default rate: each of the eight steps fails 0.5% of requests; 2% of messages are
    /// delayed; the scheduled faults come about once or twice a simulated minute each.
    pub fn default_rate(self) -> f64 {
        match self {
            FaultKind::Rpc(_) => 0.005,
            FaultKind::Delay => 0.02,
            FaultKind::Duplicate => 0.01,
            FaultKind::Reorder | FaultKind::ClockDrift => 1.0,
            FaultKind::Partition | FaultKind::OneWay | FaultKind::Isolate => 1.0,
            FaultKind::Flapping => 0.5,
            FaultKind::Crash => 1.0,
            FaultKind::Pause => 2.0,
            FaultKind::RegistryRestart => 0.5,
            FaultKind::WatchBreak | FaultKind::Compaction => 2.0,
            FaultKind::AdminChurn => 3.0,
            FaultKind::Membership => 1.0,
        }
    }

    /// Whether the schedule draws its occurrences in advance (the rest act per message or
    /// for the whole run).
    pub fn scheduled(self) -> bool {
        self.unit() == RateUnit::PerMinute
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    /// Accepts `crash`, `one-way`, and the eight steps as `post-reply` or `POST_REPLY`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == norm)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown fault '{s}'; expected 'all', 'rpc' (the eight request/reply \
                     steps), 'none', or a list of: {}",
                    names.join(", ")
                )
            })
    }
}

impl Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FaultKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Which faults a run injects, and how often.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Each enabled fault and its rate (see [`FaultKind::unit`]).
    pub rates: BTreeMap<FaultKind, f64>,
}

impl FaultPlan {
    /// Every fault at its default rate.
    pub fn all() -> FaultPlan {
        FaultPlan::of(FaultKind::ALL)
    }

    /// No faults.
    pub fn none() -> FaultPlan {
        FaultPlan {
            rates: BTreeMap::new(),
        }
    }

    /// These faults at their default rates.
    pub fn of(kinds: impl IntoIterator<Item = FaultKind>) -> FaultPlan {
        FaultPlan {
            rates: kinds.into_iter().map(|k| (k, k.default_rate())).collect(),
        }
    }

    /// Parse `all`, `none`, or a comma-separated list of names (`rpc` stands for the eight
    /// request/reply steps).
    pub fn parse(list: &str) -> Result<FaultPlan, String> {
        let list = list.trim();
        match list {
            "all" => return Ok(FaultPlan::all()),
            "none" | "" => return Ok(FaultPlan::none()),
            _ => {}
        }
        let mut kinds = Vec::new();
        for item in list.split(',') {
            match item.trim() {
                "rpc" => kinds.extend(FailureStep::ALL.map(FaultKind::Rpc)),
                "all" => kinds.extend(FaultKind::ALL),
                name => kinds.push(name.parse()?),
            }
        }
        Ok(FaultPlan::of(kinds))
    }

    /// The rate of `kind`, 0 when it is off.
    pub fn rate(&self, kind: FaultKind) -> f64 {
        self.rates.get(&kind).copied().unwrap_or(0.0)
    }

    /// Whether `kind` is on.
    pub fn has(&self, kind: FaultKind) -> bool {
        self.rate(kind) > 0.0
    }

    /// Set one rate (`kind=rate` on the command line). A rate of 0 turns the fault off.
    pub fn set_rate(&mut self, spec: &str) -> Result<(), String> {
        let (name, rate) = spec
            .split_once('=')
            .ok_or_else(|| format!("--rate '{spec}': expected FAULT=RATE, e.g. crash=3"))?;
        let kind: FaultKind = name.parse()?;
        let rate: f64 = rate
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| format!("--rate '{spec}': '{rate}' is not a rate (a number >= 0)"))?;
        if kind.unit() == RateUnit::PerMessage && rate > 1.0 {
            return Err(format!(
                "--rate '{spec}': {kind} is a probability per message; {rate} is above 1"
            ));
        }
        if rate == 0.0 {
            self.rates.remove(&kind);
        } else {
            self.rates.insert(kind, rate);
        }
        Ok(())
    }

    /// The total probability that a request fails at one of the eight steps.
    pub fn rpc_total(&self) -> f64 {
        FailureStep::ALL
            .iter()
            .map(|s| self.rate(FaultKind::Rpc(*s)))
            .sum()
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rates.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self
            .rates
            .iter()
            .map(|(k, r)| match k.unit() {
                RateUnit::PerMessage => format!("{k} {:.2}%", r * 100.0),
                RateUnit::PerMinute => format!("{k} {r:.2}/min"),
                RateUnit::Switch => format!("{k} x{r:.2}"),
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}
