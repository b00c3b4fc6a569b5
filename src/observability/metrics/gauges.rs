//! Gauges prometheus-client lacks: one absent until first set, and a labelled set replaced as a whole.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;

/// A gauge that is absent from the exposition until first set.
#[derive(Debug, Clone, Default)]
pub struct OptionalGauge(Arc<Mutex<Option<f64>>>);

impl OptionalGauge {
    pub fn set(&self, v: f64) {
        *self.0.lock() = Some(v);
    }
    pub fn get(&self) -> Option<f64> {
        *self.0.lock()
    }
}

impl EncodeMetric for OptionalGauge {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        match self.get() {
            Some(v) => encoder.encode_gauge(&v),
            None => Ok(()),
        }
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
    fn is_empty(&self) -> bool {
        self.get().is_none()
    }
}

/// Gauges keyed by one label value that can be read back (prometheus-client's `Family` cannot be
/// iterated, and alerts and the status page need the values).
#[derive(Debug, Clone)]
pub struct GaugeMap {
    label: &'static str,
    values: Arc<Mutex<BTreeMap<String, f64>>>,
}

impl GaugeMap {
    pub fn new(label: &'static str) -> Self {
        Self { label, values: Arc::default() }
    }
    /// Replaces every entry (e.g. the one current role).
    pub fn replace_all(&self, entries: impl IntoIterator<Item = (String, f64)>) {
        *self.values.lock() = entries.into_iter().collect();
    }
    pub fn entries(&self) -> Vec<(String, f64)> {
        self.values.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

impl EncodeMetric for GaugeMap {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (key, value) in self.entries() {
            let labels = [(self.label, key.as_str())];
            encoder.encode_family(&labels)?.encode_gauge(&value)?;
        }
        Ok(())
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}
