# The OCI image: the same static binary as packages.default, CA roots for S3 and ACME, a non-root user
# and a /data volume. Equivalent to the Containerfile, built without a registry or a base image.
# Load it with `podman load < result` (or `docker load < result`).
{
  lib,
  dockerTools,
  mysetlist,
}:
let
  uid = 65532; # the conventional "nonroot" id; nothing on a host owns it
  passwd = dockerTools.fakeNss.override {
    extraPasswdLines = [ "mysetlist:x:${toString uid}:${toString uid}:MySetlist:/data:/sbin/nologin" ];
    extraGroupLines = [ "mysetlist:x:${toString uid}:" ];
  };
  seconds = s: s * 1000000000; # the image config counts health-check durations in nanoseconds
in
dockerTools.buildLayeredImage {
  name = "mysetlist";
  tag = mysetlist.version;

  contents = [
    dockerTools.caCertificates # /etc/ssl/certs/ca-certificates.crt and the other usual paths
    passwd # /etc/passwd + /etc/group, so getpwuid() finds the user
  ];

  # Same layout as the Containerfile: the binary at /mysetlist, an empty /data owned by the user, /tmp
  # for SQLite's temporary files.
  extraCommands = ''
    ln -s ${lib.getExe mysetlist} mysetlist
    mkdir -p data tmp
    chmod 1777 tmp
  '';
  fakeRootCommands = ''
    mkdir -p data
    chown ${toString uid}:${toString uid} data
    chmod 0700 data
  '';

  config = {
    Entrypoint = [ "/mysetlist" ];
    Cmd = [ "serve" ];
    User = "${toString uid}:${toString uid}";
    WorkingDir = "/data";
    Env = [
      "MYSETLIST_DATA_DIR=/data"
      "MYSETLIST_LISTEN=0.0.0.0:8080"
      "HOME=/data"
      "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
    ];
    ExposedPorts = {
      "80/tcp" = { };
      "443/tcp" = { };
      "8080/tcp" = { };
    };
    Volumes."/data" = { };
    StopSignal = "SIGTERM";
    Healthcheck = {
      Test = [
        "CMD"
        "/mysetlist"
        "health"
      ];
      Interval = seconds 30;
      Timeout = seconds 5;
      StartPeriod = seconds 30;
      Retries = 3;
    };
    Labels = {
      "org.opencontainers.image.title" = "mysetlist";
      "org.opencontainers.image.description" = mysetlist.meta.description;
      "org.opencontainers.image.licenses" = "AGPL-3.0-only";
      "org.opencontainers.image.version" = mysetlist.version;
    };
  };
}
