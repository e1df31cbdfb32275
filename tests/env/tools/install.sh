#!/usr/bin/env bash
# Client tools of spate's local environment, built with `go build` from the wrapper
# module beside this script (k8s.sh install runs it after the control plane):
#   helm               helm.sh/helm/v4, for the chart's lint, template, install and upgrade
#   argocd-lua-health  gopher-lua, the interpreter Argo CD embeds, running a Lua health
#                      check against an object as Argo CD does (argocd-lua-health/)
#
#   install.sh           build both into $SPATE_CACHE_DIR/tools-helm-<v>-rev<r>/bin (once;
#                        a complete directory needs no network)
#   install.sh path NAME print the path of tool NAME

source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

HELM_VERSION=4.3.2
# Bumped when the build recipe or argocd-lua-health changes, so that cached binaries are rebuilt.
TOOLS_BUILD_REV=1
TOOLS_HOME=$SPATE_CACHE_DIR/tools-helm-$HELM_VERSION-rev$TOOLS_BUILD_REV
TOOLS_MODULE=$SPATE_ROOT/tests/env/tools

install() {
  mkdir -p "$TOOLS_HOME"
  exec 8>"$TOOLS_HOME.lock"
  flock -n 8 || { log "tools: another build is running in $TOOLS_HOME; waiting for it"; flock 8; }
  if [[ -f $TOOLS_HOME/.complete ]]; then
    log "tools: helm $HELM_VERSION and argocd-lua-health already built in $TOOLS_HOME/bin"
    return 0
  fi
  check_go "$TOOLS_MODULE/go.mod"
  go_env
  local start=$SECONDS blog=$TOOLS_HOME/build.log
  rm -rf "$TOOLS_HOME/src" "$TOOLS_HOME/bin.new"
  mkdir -p "$TOOLS_HOME/src" "$TOOLS_HOME/bin.new"
  # Build from a copy so a build never touches the repository's go.mod/go.sum.
  cp -r "$TOOLS_MODULE/go.mod" "$TOOLS_MODULE/go.sum" "$TOOLS_MODULE/argocd-lua-health" "$TOOLS_HOME/src/"
  log "tools: building helm $HELM_VERSION and argocd-lua-health (cold: a few minutes; log $blog)"
  (cd "$TOOLS_HOME/src" && go mod download && exec go build -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    -o "$TOOLS_HOME/bin.new/" helm.sh/helm/v4/cmd/helm ./argocd-lua-health) >"$blog" 2>&1 ||
    { tail -30 "$blog" >&2; die "tools: go build failed (log $blog)"; }
  rm -rf "$TOOLS_HOME/bin"
  mv "$TOOLS_HOME/bin.new" "$TOOLS_HOME/bin"
  "$TOOLS_HOME/bin/helm" version --short >/dev/null || die "tools: the built helm does not run"
  touch "$TOOLS_HOME/.complete"
  log "tools: built $("$TOOLS_HOME/bin/helm" version --short) and argocd-lua-health in $((SECONDS - start))s"
}

case ${1:-install} in
  install) install ;;
  path) echo "$TOOLS_HOME/bin/${2:?usage: $0 path NAME}" ;;
  *) die "usage: $0 [install | path NAME]" ;;
esac
