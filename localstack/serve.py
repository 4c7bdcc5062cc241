"""LocalStack's runtime (what `python -m localstack.runtime.main` runs), bound where GATEWAY_LISTEN says.

LocalStack's default gateway server (Twisted) passes only the port of each IPv4 address in
GATEWAY_LISTEN to Twisted, so `GATEWAY_LISTEN=127.0.0.1:4566` still listens on 0.0.0.0:4566,
reachable from the network (upstream notes it in localstack/localstack#11601). A local test
server must listen on loopback only, so before LocalStack starts, Twisted's IPv4 server endpoint
is given the host GATEWAY_LISTEN names for its port when the caller passed none.

Run with the LocalStack venv's Python and the same environment as LocalStack itself
(localstack.sh does).
"""

from twisted.internet import endpoints

from localstack import config
from localstack.runtime.main import main

# Only what GATEWAY_LISTEN names changes; any other listener keeps Twisted's behaviour.
_HOSTS_BY_PORT = {
    listen.port: listen.host for listen in config.GATEWAY_LISTEN if not config.is_ipv6_address(listen.host)
}
_TCP4ServerEndpoint = endpoints.TCP4ServerEndpoint


class _GatewayListenTCP4ServerEndpoint(_TCP4ServerEndpoint):
    def __init__(self, reactor, port, backlog=50, interface=""):
        super().__init__(reactor, port, backlog, interface or _HOSTS_BY_PORT.get(port, ""))


endpoints.TCP4ServerEndpoint = _GatewayListenTCP4ServerEndpoint

if __name__ == "__main__":
    main()
