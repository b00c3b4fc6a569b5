# Stand-ins for the NixOS options and module arguments services.mysetlist and the VM tests' nodes touch
# (from nix-eval-kit). Loose declarations, except systemd's unit options, which keep nixpkgs' real
# `unitOption` merge (nixos/lib/systemd-unit-options.nix): that is what finds conflicting definitions.
{ lib }:
let
  inherit (lib) mkOption types;
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
      in
      if lib.isList (lib.head defs').value then
        lib.concatMap (
          def:
          if builtins.typeOf def.value == "list" then
            def.value
          else
            throw "mix of list and non-list for ${lib.showOption loc}"
        ) defs'
      else
        lib.mergeEqualOption loc defs';
  };
  unitNameType = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";
  serviceModule = {
    options = {
      enable = mkOption { type = types.bool; default = true; };
      description = mkOption { type = types.singleLineStr; default = ""; };
      wantedBy = mkOption { type = types.listOf unitNameType; default = [ ]; };
      requiredBy = mkOption { type = types.listOf unitNameType; default = [ ]; };
      wants = mkOption { type = types.listOf unitNameType; default = [ ]; };
      requires = mkOption { type = types.listOf unitNameType; default = [ ]; };
      after = mkOption { type = types.listOf unitNameType; default = [ ]; };
      before = mkOption { type = types.listOf unitNameType; default = [ ]; };
      unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
      environment = mkOption { type = with types; attrsOf (nullOr (oneOf [ str path package ])); default = { }; };
      path = mkOption { type = with types; listOf (oneOf [ package str ]); default = [ ]; };
      serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
      script = mkOption { type = types.lines; default = ""; };
      restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    };
  };
in
{
  options = {
    assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; };
    networking.hostName = mkOption { type = types.str; default = "nixos"; };
    networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    networking.extraHosts = mkOption { type = types.lines; default = ""; };
    networking.hosts = mkOption { type = types.attrsOf (types.listOf types.str); default = { }; };
    networking.primaryIPAddress = mkOption { type = types.str; default = "192.168.1.2"; };
    environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
    environment.etc = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; };
    users.users = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; };
    users.groups = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; };
    systemd.package = mkOption { type = types.package; };
    systemd.services = mkOption { type = types.attrsOf (types.submodule serviceModule); default = { }; };
    systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };
    virtualisation = mkOption { type = types.attrsOf types.anything; default = { }; };
    security.pki.certificateFiles = mkOption { type = types.listOf types.path; default = [ ]; };
    test-support = mkOption { type = types.attrsOf types.anything; default = { }; };
    # reverse proxies in the documented setups
    services.nginx = mkOption { type = types.attrsOf types.anything; default = { }; };
    services.prometheus = mkOption { type = types.attrsOf types.anything; default = { }; };
  };
}
