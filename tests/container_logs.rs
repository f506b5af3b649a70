//! Kubernetes container logs (`format = "cri"`) as a node's runtime writes them under
//! `/var/log/pods/NAMESPACE_POD_UID/CONTAINER/N.log`: time and stream parsed, partial lines
//! joined (also across reads), the pod's identity on the resource, a stray line kept whole;
//! positions only ever past whole messages, so a restart repeats and loses nothing.

use crate::support::file::{append, start};
use crate::support::{Setup, eventually, ndjson, wait_exit};
use std::time::Duration;

fn setup() -> Setup {
    let setup = Setup::new(
        r#"
        data_dir = "@DIR@/state"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.pods]
        type = "file"
        format = "cri"
        include = ["@DIR@/var/log/pods/*/*/*.log"]
        poll_interval = "20ms"
        discovery_interval = "100ms"
        checkpoint_interval = "100ms"
        [outputs.out]
        type = "file"
        inputs = ["pods"]
        path = "@DIR@/out.ndjson"
        "#,
    );
    std::fs::create_dir_all(setup.path("var/log/pods/shop_checkout-7d9f_0b7e0c3e/app")).unwrap();
    setup
}

fn wait_records(setup: &Setup, n: usize) -> Vec<serde_json::Value> {
    eventually(Duration::from_secs(30), &format!("{n} records"), || {
        let text = std::fs::read_to_string(setup.path("out.ndjson")).ok()?;
        let r = ndjson(&text[..text.rfind('\n').map_or(0, |i| i + 1)]);
        (r.len() >= n).then_some(r)
    })
}

fn get<'a>(attrs: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    attrs
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| &kv["value"])
        .unwrap_or(&serde_json::Value::Null)
}

#[test]
fn container_logs_are_parsed_joined_and_attributed_to_their_pod() {
    let setup = setup();
    let log = setup.path("var/log/pods/shop_checkout-7d9f_0b7e0c3e/app/0.log");
    append(&log, "2026-11-29T10:00:00.000000001Z stdout F started\n");
    append(&log, "2026-11-29T10:00:01.5Z stderr P a long message, \n");
    let mut running = start(&setup);
    // The rest of the partial message arrives in a later write.
    std::thread::sleep(Duration::from_millis(300));
    append(
        &log,
        "2026-11-29T10:00:01.6Z stderr P split by the runtime, \n2026-11-29T10:00:01.7Z stderr F ends here\n",
    );
    append(&log, "not a CRI line\n2026-11-29T10:00:02Z stdout F done\n");
    let records = wait_records(&setup, 4);
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| r["body"]["stringValue"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "started",
            "a long message, split by the runtime, ends here",
            "not a CRI line",
            "done"
        ]
    );
    assert_eq!(records[0]["timeUnixNano"], "1795946400000000001");
    assert_eq!(
        get(&records[0]["attributes"], "log.iostream")["stringValue"],
        "stdout"
    );
    assert_eq!(
        get(&records[1]["attributes"], "log.iostream")["stringValue"],
        "stderr"
    );
    assert_eq!(records[1]["timeUnixNano"], "1795946401500000000");
    assert_eq!(
        get(&records[2]["attributes"], "log.parse_error")["stringValue"],
        "not an RFC 3339 time"
    );
    let resource = &records[0]["resource"]["attributes"];
    assert_eq!(get(resource, "k8s.namespace.name")["stringValue"], "shop");
    assert_eq!(
        get(resource, "k8s.pod.name")["stringValue"],
        "checkout-7d9f"
    );
    assert_eq!(get(resource, "k8s.pod.uid")["stringValue"], "0b7e0c3e");
    assert_eq!(get(resource, "k8s.container.name")["stringValue"], "app");
    assert_eq!(
        get(resource, "k8s.container.restart_count")["intValue"],
        "0"
    );

    // A restart in the middle of a partial message: nothing repeated, nothing lost.
    append(&log, "2026-11-29T10:00:03Z stdout P first half, \n");
    std::thread::sleep(Duration::from_millis(500));
    running.terminate();
    assert!(wait_exit(&mut running.child, Duration::from_secs(30)).success());
    append(&log, "2026-11-29T10:00:03.1Z stdout F second half\n");
    let _running = start(&setup);
    let records = wait_records(&setup, 5);
    let last: Vec<&str> = records
        .iter()
        .map(|r| r["body"]["stringValue"].as_str().unwrap())
        .collect();
    assert_eq!(last[4], "first half, second half");
    assert_eq!(records.len(), 5);
}
