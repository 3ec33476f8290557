//! Unit tests of the parent module.

use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn loaded(text: &str) -> Loaded {
    let path = PathBuf::from("/etc/tk/config.toml");
    Loaded {
        file: Some(parse(&path, text).unwrap()),
        path: Some((path, PathOrigin::Platform)),
    }
}

#[test]
fn precedence_is_flag_then_env_then_config_then_default() {
    let config = loaded(
        "model = \"cfg-model\"\nhost = \"cfg-host:1\"\ntop = 3\nnum_ctx = 4096\nprompts = \"p\"\n",
    );
    let cfg = Origin::Config(PathBuf::from("/etc/tk/config.toml"));
    let env = env_of(&[
        (ENV_MODEL, "env-model"),
        (ENV_TOP, "4"),
        (ENV_PROMPTS, "/env/prompts"),
    ]);
    let flags = Flags {
        model: Some("flag-model".into()),
        ..Flags::default()
    };
    let r = resolve(&flags, &env, &config).unwrap();
    // flag beats env and config
    assert_eq!(r.model.value, "flag-model");
    assert_eq!(r.model.origin, Origin::Flag("--model"));
    // env beats config
    assert_eq!((r.top.value, &r.top.origin), (4, &Origin::Env(ENV_TOP)));
    assert_eq!(r.prompts.value.as_deref(), Some(Path::new("/env/prompts")));
    // config beats default; relative paths are relative to the file
    assert_eq!(
        (r.host.value.as_str(), &r.host.origin),
        ("cfg-host:1", &cfg)
    );
    assert_eq!((r.num_ctx.value, &r.num_ctx.origin), (Some(4096), &cfg));

    // Without the config file: defaults.
    let r = resolve(&Flags::default(), &env_of(&[]), &Loaded::default()).unwrap();
    assert_eq!(r.model.value, DEFAULT_MODEL);
    assert_eq!(r.host.value, DEFAULT_HOST);
    assert_eq!(r.top.value, DEFAULT_TOP);
    assert_eq!(r.num_ctx.value, None);
    assert_eq!(r.prompts.value, None);
    for origin in [
        &r.model.origin,
        &r.host.origin,
        &r.top.origin,
        &r.num_ctx.origin,
        &r.prompts.origin,
    ] {
        assert_eq!(origin, &Origin::Default);
    }

    // Config only: relative prompts resolved against the file's directory.
    let r = resolve(&Flags::default(), &env_of(&[]), &config).unwrap();
    assert_eq!(r.prompts.value.as_deref(), Some(Path::new("/etc/tk/p")));
    assert_eq!(r.model.origin, cfg);

    // Every flag beats everything.
    let flags = Flags {
        model: Some("m".into()),
        host: Some("h".into()),
        top: Some(7),
        num_ctx: Some(1024),
        prompts: Some("fp".into()),
        ..Flags::default()
    };
    let env = env_of(&[
        (ENV_MODEL, "e"),
        (ENV_HOST, "e"),
        (ENV_TOP, "8"),
        (ENV_NUM_CTX, "2048"),
        (ENV_PROMPTS, "ep"),
    ]);
    let r = resolve(&flags, &env, &config).unwrap();
    assert_eq!(r.host.origin, Origin::Flag("--host"));
    assert_eq!(r.top.value, 7);
    assert_eq!(r.num_ctx.value, Some(1024));
    assert_eq!(r.prompts.value.as_deref(), Some(Path::new("fp")));
    // And env beats config for num_ctx and host.
    let r = resolve(&Flags::default(), &env, &config).unwrap();
    assert_eq!((r.num_ctx.value, r.host.value.as_str()), (Some(2048), "e"));
}

#[test]
fn bad_env_numbers_are_errors_naming_the_variable() {
    let err = resolve(
        &Flags::default(),
        &env_of(&[(ENV_TOP, "lots")]),
        &Loaded::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "$TAKEAWAYS_TOP=\"lots\": expected a whole number from 1 to 100"
    );
    assert!(resolve(
        &Flags::default(),
        &env_of(&[(ENV_NUM_CTX, "100")]),
        &Loaded::default()
    )
    .is_err());
}

#[test]
fn malformed_files_give_one_line_naming_the_file_and_line() {
    let path = Path::new("/home/u/.config/takeaways/config.toml");
    let err = parse(path, "model = \"a\"\ntop = \"ten\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("config file /home/u/.config/takeaways/config.toml: line 2: "),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    let err = parse(path, "modle = \"a\"\n").unwrap_err().to_string();
    assert!(err.contains("line 1") && err.contains("modle"), "{err}");
    let err = parse(path, "top = 0\n").unwrap_err().to_string();
    assert!(err.contains("top = 0: expected 1 to 100"), "{err}");
    let err = parse(path, "model = [").unwrap_err().to_string();
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn file_named_by_env_is_read_and_a_missing_one_is_no_config() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let missing_s = missing.to_string_lossy().into_owned();
    let env = env_of(&[(CONFIG_ENV, &missing_s)]);
    assert_eq!(
        load(&env).unwrap(),
        Loaded {
            path: Some((missing, PathOrigin::Env)),
            file: None
        }
    );

    let present = dir.path().join("c.toml");
    std::fs::write(&present, "top = 5\n").unwrap();
    let present_s = present.to_string_lossy().into_owned();
    let l = load(&env_of(&[(CONFIG_ENV, &present_s)])).unwrap();
    assert_eq!(l.file.unwrap().top, Some(5));
    assert_eq!(l.path, Some((present, PathOrigin::Env)));
}
