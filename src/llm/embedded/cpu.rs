//! The CPU facts the engine needs before llama.cpp runs: how many threads to use, and whether
//! this CPU has the SIMD the C++ part was built for.

use std::collections::HashSet;

/// Physical CPU cores this process may use: on Linux the distinct
/// `/sys/devices/system/cpu/cpu*/topology/thread_siblings_list` entries (as llama.cpp's
/// `cpu_get_num_physical_cores`), capped by [`std::thread::available_parallelism`] (affinity,
/// cgroup quota); elsewhere the latter. At least 1.
pub fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    linux_physical_cores().map_or(logical, |p| p.clamp(1, logical))
}

fn linux_physical_cores() -> Option<usize> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu").ok()?;
    let mut cores = HashSet::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_cpu = name
            .strip_prefix("cpu")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !is_cpu {
            continue;
        }
        if let Ok(s) = std::fs::read_to_string(entry.path().join("topology/thread_siblings_list")) {
            cores.insert(s.trim().to_owned());
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

/// The SIMD the C++ part was built for (`.cargo/config.toml` `[env]`, or ggml's defaults when
/// unset), checked before llama.cpp runs so that an older CPU gets an error, not SIGILL.
pub(super) fn check_cpu() -> Result<(), String> {
    #[cfg(target_arch = "x86_64")]
    {
        let on = |v: Option<&str>| v.is_none_or(|v| v.eq_ignore_ascii_case("on") || v == "1");
        let needed = [
            (
                "avx",
                on(option_env!("GGML_AVX")),
                std::arch::is_x86_feature_detected!("avx"),
            ),
            (
                "avx2",
                on(option_env!("GGML_AVX2")),
                std::arch::is_x86_feature_detected!("avx2"),
            ),
            (
                "fma",
                on(option_env!("GGML_FMA")),
                std::arch::is_x86_feature_detected!("fma"),
            ),
            (
                "f16c",
                on(option_env!("GGML_F16C")),
                std::arch::is_x86_feature_detected!("f16c"),
            ),
            (
                "bmi2",
                on(option_env!("GGML_BMI2")),
                std::arch::is_x86_feature_detected!("bmi2"),
            ),
        ];
        let missing: Vec<&str> = needed
            .iter()
            .filter(|(_, built, has)| *built && !*has)
            .map(|(name, _, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "this build of llama.cpp needs an x86-64-v3 CPU (AVX2, FMA, F16C), and this CPU \
                 lacks {}; rebuild on this machine with RUSTFLAGS=\"-C target-cpu=native\" or use \
                 --engine ollama",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}
