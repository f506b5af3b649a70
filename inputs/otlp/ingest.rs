//! The OTLP answer to an accepted request; the rest of request handling is shared
//! (`crate::net::ingest`).

use crate::net::ingest::Accepted;
pub(crate) use crate::net::ingest::{Failure, Ingest, RETRY_AFTER};
use crate::record::otlp::{ExportLogsPartialSuccess, ExportLogsServiceResponse};

/// The OTLP answer: empty on full success, `partial_success` otherwise.
pub(crate) trait OtlpAnswer {
    fn response(self) -> ExportLogsServiceResponse;
}

impl OtlpAnswer for Accepted {
    fn response(self) -> ExportLogsServiceResponse {
        ExportLogsServiceResponse {
            partial_success: (self.rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: self.rejected as i64,
                error_message: self.message,
            }),
        }
    }
}
