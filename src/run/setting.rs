//! A run's numeric settings, each declared once: its name (the element's attribute, the
//! command line's flag and the share link's field are all spelled so), its range and its
//! default. Every face reads them from here: the element's attributes
//! ([`Settings::read`](crate::settings::Settings::read)), the share link
//! ([`SharedRun::from_hash`](crate::share::SharedRun::from_hash)), the command line's flags
//! (their defaults, and their parsing) and the engines' own checks
//! ([`check_model_size`](super::check_model_size), `Sweep::new`).

use std::ops::RangeInclusive;

/// One numeric setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// As an attribute, a flag (`--` before it) and a link field.
    pub name: &'static str,
    pub min: u64,
    pub max: u64,
    pub default: u64,
}

/// Why a setting's text was refused, naming the setting and its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={text:?} is not a whole number from {min} to {max}")]
pub struct SettingError {
    pub name: &'static str,
    pub text: String,
    pub min: u64,
    pub max: u64,
}

impl Setting {
    pub const fn range(self) -> RangeInclusive<u64> {
        self.min..=self.max
    }

    /// The value `text` holds (spaces around it ignored), if it is a whole number in range.
    pub fn parse(self, text: &str) -> Result<u64, SettingError> {
        (text.trim().parse::<u64>().ok())
            .filter(|n| self.range().contains(n))
            .ok_or_else(|| SettingError {
                name: self.name,
                text: text.to_string(),
                min: self.min,
                max: self.max,
            })
    }

    /// `value` if it is in range; otherwise the same message its text would get.
    pub fn check(self, value: u64) -> Result<u64, SettingError> {
        self.parse(&value.to_string())
    }

    /// An attribute's value: `default` when it is absent; when it is bad, `default` too and a
    /// message in `problems` that names it and the value used instead.
    pub fn read_or(self, text: Option<&str>, default: u64, problems: &mut Vec<String>) -> u64 {
        match text.map(|t| self.parse(t)) {
            None => default,
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                problems.push(format!("{e}; using {default}"));
                default
            }
        }
    }
}

/// A run's seed (the first seed of a sweep). The command line takes any 64-bit seed; the
/// page and its links take 32-bit ones.
pub const SEED: Setting = Setting {
    name: "seed",
    min: 0,
    max: u32::MAX as u64,
    default: 1,
};

/// The bottleneck's width: the separation term uses dims 0 and 1, so at least 2.
pub const LATENT_DIMS: Setting = Setting {
    name: "latent-dims",
    min: 2,
    max: 64,
    default: 4,
};

pub const BATCH_SIZE: Setting = Setting {
    name: "batch-size",
    min: 1,
    max: 65_536,
    default: 256,
};

/// Seeds a sweep trains at once on the command line.
pub const RUNS: Setting = Setting {
    name: "runs",
    min: 1,
    max: 4096,
    default: 16,
};

/// Seeds a page trains at once (a sweep in its workers): fewer than the command line's.
pub const PAGE_RUNS: Setting = Setting {
    name: "runs",
    min: 1,
    max: 1024,
    default: 1,
};

/// Workers a page's CPU sweep shares its runs among: each is a thread and a copy of the
/// engine, so a many-core machine gets some of its cores, not a hundred threads. The default
/// is the browser's cores up to this one's `default`: each worker holds about 17 MB of wasm
/// memory (a sweep part of 1 to 64 runs, measured in Node) beside its JS heap, and a blog post
/// should not take half a gigabyte on a 16-core machine.
pub const WORKERS: Setting = Setting {
    name: "workers",
    min: 1,
    max: 16,
    default: 8,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_reads_its_range_and_names_itself_otherwise() {
        assert_eq!(LATENT_DIMS.parse(" 3 "), Ok(3));
        assert_eq!(LATENT_DIMS.parse("64"), Ok(64));
        for bad in ["1", "65", "abc", "", "-2", "3.5"] {
            let e = LATENT_DIMS.parse(bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("latent-dims={bad:?} is not a whole number from 2 to 64")
            );
        }
        assert_eq!(LATENT_DIMS.check(2), Ok(2));
        assert_eq!(
            LATENT_DIMS.check(99).unwrap_err().to_string(),
            "latent-dims=\"99\" is not a whole number from 2 to 64"
        );
        assert_eq!(SEED.parse("4294967295"), Ok(u32::MAX as u64));
        assert!(SEED.parse("4294967296").is_err());
    }

    #[test]
    fn an_attribute_falls_back_to_its_default_with_a_message() {
        let mut problems = Vec::new();
        assert_eq!(BATCH_SIZE.read_or(None, 256, &mut problems), 256);
        assert_eq!(BATCH_SIZE.read_or(Some("32"), 256, &mut problems), 32);
        assert!(problems.is_empty());
        assert_eq!(BATCH_SIZE.read_or(Some("0"), 256, &mut problems), 256);
        assert_eq!(
            problems,
            ["batch-size=\"0\" is not a whole number from 1 to 65536; using 256"]
        );
    }

    #[test]
    fn the_defaults_are_in_range() {
        for s in [SEED, LATENT_DIMS, BATCH_SIZE, RUNS, PAGE_RUNS, WORKERS] {
            assert!(s.range().contains(&s.default), "{}", s.name);
        }
        const { assert!(PAGE_RUNS.max <= RUNS.max, "a page sweep is a sweep") };
    }
}
