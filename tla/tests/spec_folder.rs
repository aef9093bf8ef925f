//! The spec folder: found in the source tree, or where `REBALANSER_TLA_DIR` says; the
//! configurations the CLI and the cross-check name are there and say what they cover.

use std::path::Path;

/// One test, because it sets the process's environment.
#[test]
fn the_spec_folder_is_found_and_holds_every_configuration() {
    let dir = tla::spec_dir().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dir, Path::new(env!("CARGO_MANIFEST_DIR")).join("spec"));
    for module in [tla::SPEC, tla::replay::MODULE, "RebalanserTrace.tla"] {
        assert!(
            dir.join(module).is_file(),
            "no {module} in {}",
            dir.display()
        );
    }
    let configs = tla::configs(&dir);
    let names: Vec<&str> = configs.iter().map(|(n, _)| n.as_str()).collect();
    for wanted in ["ci", "liveness", "ci-late", "timing-off"]
        .into_iter()
        .map(String::from)
        .chain(
            protocol::Mutant::ALL
                .into_iter()
                .filter(|m| m.outside().is_none())
                .map(|m| format!("mutant-{}", m.code())),
        )
    {
        assert!(
            names.contains(&wanted.as_str()),
            "{wanted} missing: {names:?}"
        );
    }
    assert!(
        configs.iter().all(|(_, about)| !about.is_empty()),
        "every configuration's first line says what it covers: {configs:?}"
    );

    // The override names the tla/ folder; the spec is looked for in its spec/.
    let elsewhere = std::env::temp_dir().join(format!("rebalanser-no-tla-{}", std::process::id()));
    std::env::set_var("REBALANSER_TLA_DIR", &elsewhere);
    assert_eq!(tla::tla_dir(), elsewhere);
    let err = tla::spec_dir().unwrap_err();
    assert!(
        err.contains(&elsewhere.join("spec").join(tla::SPEC).display().to_string())
            && err.contains("REBALANSER_TLA_DIR"),
        "{err}"
    );
    std::env::remove_var("REBALANSER_TLA_DIR");
}
