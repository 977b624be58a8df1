//! The logger's inputs as the setup portal sets them: which GPIOs are machines, their names,
//! whether the input reads low while the machine runs, and how long a level must hold. Checked
//! against the board's rule for GPIOs, kept in flash as text (one line per input), and read
//! from the portal's form.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The most inputs one logger watches.
pub const MAX_INPUTS: usize = 8;
/// Longest asset name (the server's own limit is 100 characters).
pub const MAX_NAME: usize = 40;
/// Debounce times the form takes, in milliseconds.
pub const DEBOUNCE_MS: core::ops::RangeInclusive<u64> = 1..=10_000;

/// One machine run signal wired to a GPIO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// The GPIO number; also the `pin` the server files the asset under.
    pub gpio: u8,
    /// The asset's name, sent at registration for a pin the server does not know yet.
    pub name: String,
    /// The input reads low while the machine runs (an optocoupler pulling the GPIO to ground).
    pub active_low: bool,
    /// How long a new level must hold before it counts.
    pub debounce_ms: u64,
}

/// Which GPIOs a board lets the inputs use.
#[derive(Debug, Clone, Copy)]
pub struct Gpios {
    /// The highest GPIO number.
    pub highest: u8,
    /// GPIOs the board itself uses (display, flash, USB, strapping pins).
    pub reserved: &'static [u8],
}

/// What is wrong with a set of inputs: shown on the portal page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    NoInputs,
    TooMany,
    NotAGpio(String),
    Reserved(u8),
    Twice(u8),
    NoName(u8),
    NameTooLong(u8),
    BadDebounce(u8),
}

impl core::fmt::Display for InputError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoInputs => write!(f, "Give at least one input a GPIO number."),
            Self::TooMany => write!(f, "A logger watches at most {MAX_INPUTS} inputs."),
            Self::NotAGpio(raw) => write!(f, "{raw:?} is not a GPIO number of this board."),
            Self::Reserved(gpio) => write!(
                f,
                "GPIO {gpio} is used by the board itself (display, flash, USB or a strapping pin)."
            ),
            Self::Twice(gpio) => write!(f, "GPIO {gpio} is given twice."),
            Self::NoName(gpio) => write!(f, "GPIO {gpio} needs a name."),
            Self::NameTooLong(gpio) => write!(
                f,
                "The name of GPIO {gpio} is longer than {MAX_NAME} characters or has a control character."
            ),
            Self::BadDebounce(gpio) => write!(
                f,
                "The debounce time of GPIO {gpio} is {} to {} ms.",
                DEBOUNCE_MS.start(),
                DEBOUNCE_MS.end()
            ),
        }
    }
}

/// Whether `inputs` may be wired on a board with `gpios`.
pub fn check(inputs: &[InputSpec], gpios: &Gpios) -> Result<(), InputError> {
    if inputs.is_empty() {
        return Err(InputError::NoInputs);
    }
    if inputs.len() > MAX_INPUTS {
        return Err(InputError::TooMany);
    }
    for (i, input) in inputs.iter().enumerate() {
        let gpio = input.gpio;
        if gpio > gpios.highest {
            return Err(InputError::NotAGpio(gpio.to_string()));
        }
        if gpios.reserved.contains(&gpio) {
            return Err(InputError::Reserved(gpio));
        }
        if inputs[..i].iter().any(|other| other.gpio == gpio) {
            return Err(InputError::Twice(gpio));
        }
        if input.name.trim().is_empty() {
            return Err(InputError::NoName(gpio));
        }
        if input.name.chars().count() > MAX_NAME || input.name.chars().any(char::is_control) {
            return Err(InputError::NameTooLong(gpio));
        }
        if !DEBOUNCE_MS.contains(&input.debounce_ms) {
            return Err(InputError::BadDebounce(gpio));
        }
    }
    Ok(())
}

/// The inputs as flash keeps them: `GPIO,LOW,DEBOUNCE_MS,NAME` per line (LOW is 1 or 0; the
/// name last, so it may hold commas).
pub fn encode(inputs: &[InputSpec]) -> String {
    let mut text = String::new();
    for input in inputs {
        text.push_str(&format!(
            "{},{},{},{}\n",
            input.gpio,
            u8::from(input.active_low),
            input.debounce_ms,
            input.name
        ));
    }
    text
}

/// Reads what [`encode`] wrote; `None` if it is not that.
pub fn decode(text: &str) -> Option<Vec<InputSpec>> {
    text.lines()
        .map(|line| {
            let mut fields = line.splitn(4, ',');
            let gpio = fields.next()?.parse().ok()?;
            let active_low = match fields.next()? {
                "1" => true,
                "0" => false,
                _ => return None,
            };
            let debounce_ms = fields.next()?.parse().ok()?;
            let name = String::from(fields.next()?);
            Some(InputSpec {
                gpio,
                name,
                active_low,
                debounce_ms,
            })
        })
        .collect()
}

/// Reads the portal's inputs form: for row `i` in `0..MAX_INPUTS`, `gpio{i}` (empty: no input
/// in that row), `name{i}`, `low{i}` (present when ticked) and `debounce{i}` (ms, default 50).
pub fn from_form(body: &str) -> Result<Vec<InputSpec>, InputError> {
    let mut rows: [(String, String, bool, String); MAX_INPUTS] = Default::default();
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        let Some((field, row)) = split_row(&key) else {
            continue;
        };
        let row = &mut rows[row];
        match field {
            "gpio" => row.0 = value.trim().into(),
            "name" => row.1 = value.trim().into(),
            "low" => row.2 = true,
            "debounce" => row.3 = value.trim().into(),
            _ => {}
        }
    }
    let mut inputs = Vec::new();
    for (gpio, name, active_low, debounce) in rows {
        if gpio.is_empty() {
            continue;
        }
        let number: u8 = gpio
            .parse()
            .map_err(|_| InputError::NotAGpio(gpio.clone()))?;
        let debounce_ms = if debounce.is_empty() {
            50
        } else {
            debounce
                .parse()
                .map_err(|_| InputError::BadDebounce(number))?
        };
        inputs.push(InputSpec {
            gpio: number,
            name,
            active_low,
            debounce_ms,
        });
    }
    Ok(inputs)
}

/// `gpio3` → `("gpio", 3)` for rows in range.
fn split_row(key: &str) -> Option<(&str, usize)> {
    let at = key.find(|c: char| c.is_ascii_digit())?;
    let row: usize = key[at..].parse().ok()?;
    (row < MAX_INPUTS).then_some((&key[..at], row))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOARD: Gpios = Gpios {
        highest: 21,
        reserved: &[8, 9, 11, 12],
    };

    fn input(gpio: u8, name: &str) -> InputSpec {
        InputSpec {
            gpio,
            name: name.into(),
            active_low: true,
            debounce_ms: 50,
        }
    }

    #[test]
    fn a_form_becomes_inputs_that_survive_flash() {
        let inputs = from_form(
            "gpio0=3&name0=Press+1&low0=on&debounce0=20&gpio1=&name1=unused&gpio2=10&name2=Saw%2C+big&debounce2=",
        )
        .unwrap();
        assert_eq!(
            inputs,
            [
                InputSpec {
                    gpio: 3,
                    name: "Press 1".into(),
                    active_low: true,
                    debounce_ms: 20
                },
                InputSpec {
                    gpio: 10,
                    name: "Saw, big".into(),
                    active_low: false,
                    debounce_ms: 50
                },
            ]
        );
        assert_eq!(check(&inputs, &BOARD), Ok(()));
        assert_eq!(decode(&encode(&inputs)), Some(inputs));
    }

    #[test]
    fn each_mistake_gets_its_own_message() {
        let cases = [
            (Vec::new(), InputError::NoInputs),
            ((0..9).map(|g| input(g, "m")).collect(), InputError::TooMany),
            (vec![input(22, "m")], InputError::NotAGpio("22".into())),
            (vec![input(9, "m")], InputError::Reserved(9)),
            (vec![input(3, "a"), input(3, "b")], InputError::Twice(3)),
            (vec![input(3, " ")], InputError::NoName(3)),
            (vec![input(3, &"n".repeat(41))], InputError::NameTooLong(3)),
            (vec![input(3, "a\nb")], InputError::NameTooLong(3)),
        ];
        for (inputs, error) in cases {
            assert_eq!(check(&inputs, &BOARD), Err(error));
        }
        let mut slow = input(3, "m");
        slow.debounce_ms = 0;
        assert_eq!(check(&[slow], &BOARD), Err(InputError::BadDebounce(3)));
        assert_eq!(from_form("gpio0=x"), Err(InputError::NotAGpio("x".into())));
        assert_eq!(
            from_form("gpio0=3&debounce0=fast"),
            Err(InputError::BadDebounce(3))
        );
        assert_eq!(
            from_form("gpio99=3&gpio0="),
            Ok(Vec::new()),
            "rows out of range are ignored"
        );
        assert_eq!(decode("3,2,50,x"), None);
        assert_eq!(decode("garbage"), None);
    }
}
