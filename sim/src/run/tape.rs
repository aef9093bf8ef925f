//! A run's random choices by what each was for, so that a configuration drawing from another
//! (`SimConfig::draws_from`) makes the same choices where the runs agree.

use super::*;

/// One run's random choices, each by what it was for (see [`SimConfig::draws_from`]).
#[derive(Clone, Debug, Default)]
pub struct Tape(pub(super) BTreeMap<Site, u64>);

impl Tape {
    /// Choices recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it recorded none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a random choice is for, named so that it stays the same choice when the run around it
/// changes: a request's latency by the request (see [`MsgId`]), a watch event's by the node's
/// number of events of that change, an application command's by the node's commands of that
/// kind on that resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Site {
    Offset(usize),
    Latency {
        node: usize,
        msg: MsgId,
        reply: bool,
    },
    Event {
        node: usize,
        change: Option<(Key, bool)>,
        n: u32,
    },
    Detect {
        node: usize,
        n: u32,
    },
    App {
        node: usize,
        start: bool,
        resource: ResourceId,
        n: u32,
    },
}

pub(super) enum TapeMode<'t> {
    /// Draw.
    Off,
    /// Draw, and record each choice by what it is for.
    Record(Tape),
    /// Take each choice from the tape, by what it is for (draw those it lacks).
    Play(&'t Tape),
}

impl<'c> Sim<'c> {
    /// A random choice, `drawn`, taken from the tape instead if there is one.
    pub(super) fn taped(&mut self, site: impl FnOnce(&mut Self) -> Site, drawn: u64) -> u64 {
        match self.tape {
            TapeMode::Off => drawn,
            TapeMode::Record(_) => {
                let site = site(self);
                if let TapeMode::Record(tape) = &mut self.tape {
                    tape.0.insert(site, drawn);
                }
                drawn
            }
            TapeMode::Play(tape) => {
                let site = site(self);
                tape.0.get(&site).copied().unwrap_or(drawn)
            }
        }
    }

    /// The number of node `i`'s next choice of the kind `site` names (with `n` 0).
    pub(super) fn next_site(&mut self, i: usize, site: Site) -> u32 {
        let count = self.hosts[i].sites.entry(site).or_insert(0);
        *count += 1;
        *count - 1
    }

    pub(super) fn app_site(&mut self, i: usize, start: bool, r: &ResourceId) -> Site {
        let site = Site::App {
            node: i,
            start,
            resource: r.clone(),
            n: 0,
        };
        let n = self.next_site(i, site);
        Site::App {
            node: i,
            start,
            resource: r.clone(),
            n,
        }
    }
}
