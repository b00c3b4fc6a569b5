# Stand-in for nixpkgs' nixos/tests/common/acme/server: pebble with the test CA and, as in nixpkgs
# 26.05, no DNS resolver (/etc/hosts holds only security.acme.certs' names). The names pebble resolves
# are therefore the ones this node's networking.hosts holds.
{ config, lib, ... }:
{
  config = {
    test-support.acme = {
      caDomain = "acme.test";
      caCert = "/nix/store/00000000000000000000000000000000-ca.cert.pem";
    };
    networking.hosts.${config.networking.primaryIPAddress} = [ "acme.test" ];
    systemd.services.pebble.serviceConfig.ExecStart = "pebble -config pebble.conf";
  };
}
