//! Mutated inputs never panic: thousands of corrupted base archives and conf values go
//! through the readers; each must give a value or a typed error.
use serde_json::{Value, json};

use super::common::*;

/// xorshift64*: a fixed, dependency-free pseudo-random sequence (same every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn corrupted_base_archives_give_errors_not_panics() {
    golden_fixture();
    let plain = std::fs::read("/tmp/strata-golden/base/hello-basic.tar").expect("base");
    let tmp = tempdir();
    let path = tmp.path().join("base.tar");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut ok, mut err) = (0, 0);
    for round in 0..400 {
        let mut bytes = plain.clone();
        match round % 4 {
            // Flip bytes in headers (the first 512 of some member) or anywhere.
            0 | 1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = if round % 4 == 0 {
                        rng.below(bytes.len() / 512) * 512 + rng.below(512)
                    } else {
                        rng.below(bytes.len())
                    };
                    bytes[at] = rng.next() as u8;
                }
            }
            // Cut it anywhere.
            2 => bytes.truncate(rng.below(bytes.len())),
            // Overwrite a run with zeros (an early end of archive).
            _ => {
                let at = rng.below(bytes.len());
                let len = rng.below(4096).min(bytes.len() - at);
                bytes[at..at + len].fill(0);
            }
        }
        std::fs::write(&path, &bytes).expect("write");
        let r = std::panic::catch_unwind(|| strata::base::load(&path).map(|b| b.layers.len()));
        match r {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                assert!(
                    e.to_string().contains("base.tar"),
                    "error names the archive: {e}"
                );
                err += 1;
            }
            Err(_) => panic!("base::load panicked on round {round}"),
        }
    }
    assert!(
        err > 100,
        "most corruptions are caught ({ok} loaded, {err} refused)"
    );
}

#[test]
fn mistyped_conf_values_give_errors_not_panics() {
    golden_fixture();
    let base = read_json(&stream_cases().join("nonroot/conf.json"));
    let odd = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e300),
        json!("x"),
        json!(""),
        json!([]),
        json!([[]]),
        json!([[1]]),
        json!({}),
        json!({"a": [null]}),
        json!("9999-12-31T23:59:59.999999-23:59"),
        json!("0001-01-01T00:00:00+23:59"),
        json!(u64::MAX),
        json!("340282366920938463463374607431768211456"),
    ];
    let keys: Vec<String> = base.as_object().expect("object").keys().cloned().collect();
    for key in &keys {
        for v in &odd {
            let mut conf = base.clone();
            conf[key.as_str()] = v.clone();
            let r = std::panic::catch_unwind(|| {
                strata::conf::Conf::from_value(std::path::Path::new("conf.json"), &conf, None)
                    .map(|_| ())
            });
            assert!(r.is_ok(), "Conf::from_value panicked on {key} = {v}");
        }
        let mut conf: Value = base.clone();
        conf.as_object_mut().expect("object").remove(key);
        let r = std::panic::catch_unwind(|| {
            strata::conf::Conf::from_value(std::path::Path::new("conf.json"), &conf, None)
                .map(|_| ())
        });
        assert!(r.is_ok(), "Conf::from_value panicked without {key}");
    }
}
