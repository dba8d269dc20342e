//! Providers' usage exports, read one row at a time (a JSON export's list is visited
//! element by element, never held whole), each row handed to a sink as a [`UsageRow`].
//!
//! - `openai`: the organization Costs API page (`{"object":"page","data":[buckets]}`), whose
//!   buckets are daily totals: no request ids, so OpenAI is reconciled by day.
//! - `replicate`: the predictions list (`{"results":[predictions]}`), by prediction id; the
//!   cost is `metrics.predict_time` at the hardware's price per second.
//! - `elevenlabs`: the history page (`{"history":[items]}`), by `request_id`; the cost is the
//!   characters used at the model's price per 1,000.
//! - `bfl-credits`: BFL's credit balance at the window's start and end (two replies of
//!   `GET /v1/credits`); BFL has no per-request export, so the window's total is matched.
//! - `csv`: a generic CSV with a header: an id column (`id`, `request_id`, `task_id` or
//!   `vendor_id`; without one the rows are daily totals), an amount in USD (`amount_usd`,
//!   `cost_usd`, `usd` or `amount`), optionally a `day`/`date` (`YYYY-MM-DD`) and a `status`.

use std::io::Read;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::ReconcileError;

/// A usage export's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// OpenAI's Costs API (daily totals).
    OpenAi,
    /// Replicate's predictions list.
    Replicate,
    /// ElevenLabs' history.
    ElevenLabs,
    /// A generic CSV.
    Csv,
    /// BFL's credit balance (`GET /v1/credits`: `{"credits": N}`), two replies: at the
    /// window's start and at its end. BFL gives no per-request export, so its window's total
    /// is what is matched.
    BflCredits,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "openai" => Ok(Format::OpenAi),
            "replicate" => Ok(Format::Replicate),
            "elevenlabs" => Ok(Format::ElevenLabs),
            "csv" => Ok(Format::Csv),
            "bfl-credits" => Ok(Format::BflCredits),
            other => Err(format!(
                "no usage format {other:?}; the formats are openai, replicate, elevenlabs, bfl-credits and csv"
            )),
        }
    }
}

impl Format {
    /// The format a provider's export usually comes in.
    pub fn of_provider(provider: &str) -> Format {
        match provider {
            "openai" => Format::OpenAi,
            "replicate" => Format::Replicate,
            "elevenlabs" => Format::ElevenLabs,
            "bfl" => Format::BflCredits,
            _ => Format::Csv,
        }
    }
}

/// One row of an export: what the provider says it performed, and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRow {
    /// The request or task id, or for daily totals the day (`YYYY-MM-DD`).
    pub key: String,
    /// What it cost, in USD.
    pub usd: f64,
    /// Whether the provider reports it failed or was cancelled.
    pub failed: bool,
}

/// Prices the exports leave out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    /// Replicate's hardware price per second of prediction (an A100 80GB: $0.0014).
    pub replicate_usd_per_s: f64,
    /// ElevenLabs' price per 1,000 characters for multilingual models ($0.10); Flash and
    /// Turbo models cost half.
    pub elevenlabs_usd_per_1k: f64,
    /// What one BFL credit is worth ($0.01).
    pub bfl_usd_per_credit: f64,
}

impl Default for Rates {
    fn default() -> Self {
        Self { replicate_usd_per_s: 0.0014, elevenlabs_usd_per_1k: 0.10, bfl_usd_per_credit: 0.01 }
    }
}

/// Whether a format's rows are keyed by id (else by day).
pub fn by_id(format: Format, csv_header: Option<&csv::StringRecord>) -> bool {
    match format {
        Format::OpenAi | Format::BflCredits => false,
        Format::Replicate | Format::ElevenLabs => true,
        Format::Csv => csv_header.is_some_and(|h| column(h, ID_NAMES).is_some()),
    }
}

const ID_NAMES: &[&str] = &["id", "request_id", "task_id", "vendor_id"];
const USD_NAMES: &[&str] = &["amount_usd", "cost_usd", "usd", "amount"];
const DAY_NAMES: &[&str] = &["day", "date"];

fn column(header: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&h.trim().to_ascii_lowercase().as_str()))
}

/// Reads `input` in `format`, handing each row to `sink`; returns whether rows are keyed by
/// id (`false`: daily totals).
pub fn read(
    format: Format,
    input: impl Read,
    rates: Rates,
    sink: &mut dyn FnMut(UsageRow) -> Result<(), ReconcileError>,
) -> Result<bool, ReconcileError> {
    match format {
        Format::BflCredits => {
            let reply: Credits = serde_json::from_reader(input)
                .map_err(|e| ReconcileError::Read(format!("not BFL's credits reply {{\"credits\": N}}: {e}")))?;
            sink(UsageRow { key: "balance".into(), usd: reply.credits * rates.bfl_usd_per_credit, failed: false })?;
            Ok(false)
        }
        Format::Csv => read_csv(input, sink),
        Format::OpenAi => {
            stream_list::<Bucket>(input, "data", &mut |b| {
                let usd = b.results.iter().map(|r| r.amount.value).sum();
                sink(UsageRow { key: day_of_s(b.start_time), usd, failed: false })
            })?;
            Ok(false)
        }
        Format::Replicate => {
            stream_list::<Prediction>(input, "results", &mut |p| {
                let seconds = p.metrics.and_then(|m| m.predict_time).unwrap_or(0.0);
                let failed = matches!(p.status.as_deref(), Some("failed" | "canceled"));
                sink(UsageRow { key: p.id, usd: seconds * rates.replicate_usd_per_s, failed })
            })?;
            Ok(true)
        }
        Format::ElevenLabs => {
            stream_list::<HistoryItem>(input, "history", &mut |h| {
                let chars = (h.character_count_change_to - h.character_count_change_from).max(0) as f64;
                let model = h.model_id.as_deref().unwrap_or("");
                let half = model.contains("flash") || model.contains("turbo");
                let rate = if half { rates.elevenlabs_usd_per_1k / 2.0 } else { rates.elevenlabs_usd_per_1k };
                let key = h.request_id.unwrap_or(h.history_item_id);
                sink(UsageRow { key, usd: chars / 1000.0 * rate, failed: false })
            })?;
            Ok(true)
        }
    }
}

/// The UTC day of a unix time in seconds.
fn day_of_s(seconds: i64) -> String {
    switchyard_ledger::plans::day_name(seconds.div_euclid(86_400))
}

#[derive(Deserialize)]
struct Credits {
    credits: f64,
}

#[derive(Deserialize)]
struct Bucket {
    start_time: i64,
    #[serde(default)]
    results: Vec<CostResult>,
}

#[derive(Deserialize)]
struct CostResult {
    amount: Amount,
}

#[derive(Deserialize)]
struct Amount {
    value: f64,
}

#[derive(Deserialize)]
struct Prediction {
    id: String,
    status: Option<String>,
    metrics: Option<Metrics>,
}

#[derive(Deserialize)]
struct Metrics {
    predict_time: Option<f64>,
}

#[derive(Deserialize)]
struct HistoryItem {
    history_item_id: String,
    request_id: Option<String>,
    #[serde(default)]
    character_count_change_from: i64,
    #[serde(default)]
    character_count_change_to: i64,
    model_id: Option<String>,
}

fn read_csv(
    input: impl Read,
    sink: &mut dyn FnMut(UsageRow) -> Result<(), ReconcileError>,
) -> Result<bool, ReconcileError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let header = reader.headers().map_err(|e| ReconcileError::Read(format!("the CSV header: {e}")))?.clone();
    let keyed = by_id(Format::Csv, Some(&header));
    let id = column(&header, ID_NAMES);
    let day = column(&header, DAY_NAMES);
    let usd = column(&header, USD_NAMES).ok_or_else(|| {
        ReconcileError::Read(format!("the CSV has no amount column (one of {})", USD_NAMES.join(", ")))
    })?;
    if !keyed && day.is_none() {
        return Err(ReconcileError::Read("the CSV has neither an id column nor a day column to match by".into()));
    }
    let status = column(&header, &["status"]);
    let mut record = csv::StringRecord::new();
    let mut line = 1u64;
    while reader.read_record(&mut record).map_err(|e| ReconcileError::Read(format!("CSV line {}: {e}", line + 1)))? {
        line += 1;
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let amount: f64 =
            field(usd).parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| {
                ReconcileError::Read(format!("CSV line {line}: amount {:?} is not a number", field(usd)))
            })?;
        let key = match (id, day) {
            (Some(i), _) if !field(i).is_empty() => field(i).to_string(),
            (Some(_), _) => return Err(ReconcileError::Read(format!("CSV line {line}: the id is empty"))),
            (None, Some(d)) => check_day(field(d)).ok_or_else(|| {
                ReconcileError::Read(format!("CSV line {line}: day {:?} is not YYYY-MM-DD", field(d)))
            })?,
            (None, None) => unreachable!("checked above"),
        };
        let failed = status.is_some_and(|s| matches!(field(s), "failed" | "canceled" | "cancelled" | "error"));
        sink(UsageRow { key, usd: amount, failed })?;
    }
    Ok(keyed)
}

fn check_day(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    ok.then(|| text.to_string())
}

/// Visits the list under `field` of a top-level JSON object, one element at a time.
fn stream_list<T: for<'de> Deserialize<'de>>(
    input: impl Read,
    field: &str,
    sink: &mut dyn FnMut(T) -> Result<(), ReconcileError>,
) -> Result<(), ReconcileError> {
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, input));
    let mut failure = None;
    let top = Top { field, sink, failure: &mut failure, seen: false, _t: PhantomData };
    let seen = top.deserialize(&mut de);
    if let Some(e) = failure {
        return Err(e);
    }
    let seen = seen.map_err(|e| ReconcileError::Read(format!("the JSON export: {e}")))?;
    de.end().map_err(|e| ReconcileError::Read(format!("the JSON export: {e}")))?;
    if !seen {
        return Err(ReconcileError::Read(format!("the JSON export has no \"{field}\" list; is it the right format?")));
    }
    Ok(())
}

struct Top<'a, T> {
    field: &'a str,
    sink: &'a mut dyn FnMut(T) -> Result<(), ReconcileError>,
    failure: &'a mut Option<ReconcileError>,
    seen: bool,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Top<'_, T> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Top<'_, T> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an object with a \"{}\" list", self.field)
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == self.field {
                map.next_value_seed(Items { sink: &mut *self.sink, failure: &mut *self.failure, _t: PhantomData })?;
                self.seen = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(self.seen)
    }
}

struct Items<'a, T> {
    sink: &'a mut dyn FnMut(T) -> Result<(), ReconcileError>,
    failure: &'a mut Option<ReconcileError>,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Items<'_, T> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while let Some(item) = seq.next_element::<T>().map_err(|e| de::Error::custom(format!("item {index}: {e}")))? {
            if let Err(e) = (self.sink)(item) {
                *self.failure = Some(e);
                return Err(de::Error::custom("stopped"));
            }
            index += 1;
        }
        Ok(())
    }
}
