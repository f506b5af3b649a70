//! One integration-test binary: end-to-end tests that run the real `logferry` binary.

mod support;

mod architecture;
mod beats_input;
mod cli;
mod config_errors;
mod container_logs;
mod crash_safety;
mod disk_buffer;
mod elasticsearch_input;
mod file_delivery;
mod file_input;
mod file_output;
mod filebeat_peers;
mod limits;
mod loki_output;
mod loki_peers;
mod operating;
mod otlp_input;
mod otlp_output;
mod otlp_peers;
mod outage;
mod overload;
mod reload;
mod reload_rollback;
mod sender_recipes;
mod syslog_input;
mod syslog_peers;
