# util-linux logger: one RFC 5424 message over TCP (octet-counted), then one over UDP.
logger --server logferry.example.com --port 5514 --tcp --octet-count --rfc5424 -t myapp "deploy finished"
logger --server logferry.example.com --port 5514 --udp --rfc5424 -t myapp "cache warmed"
