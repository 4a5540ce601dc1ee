#!/usr/bin/env bash
# Builds the Signalbox images: signalbox-{core,extension,proxy,demo,cli}:local (the CLI is also tagged
# signalbox-cli:latest, so `docker run --rm -v "$PWD:/w" signalbox-cli lint /w/stack.yml` works).
#
#   scripts/build-images.sh [--only core,extension,proxy,demo,cli] [--skip-build]
#                           [--base auto|official|local] [--force-base]
#
#   --only        build a subset (comma separated); only their packages are compiled
#   --skip-build  don't run pnpm install / TypeScript build (caller already did)
#   --base        auto (default): official node/nginx images if present or pullable, else
#                 the offline signalbox-base:local (scripts/build-base-image.sh);
#                 also settable as SIGNALBOX_BASE
#   --force-base  rebuild signalbox-base:local even if it exists
#
# Build contexts: .build/context/<image>/ (gitignored), each with
#   app/package.json, pnpm-lock.yaml, pnpm-workspace.yaml   (copied from the repo)
#   app/node_modules/.pnpm/...        pnpm virtual store, production deps of that image only
#   app/packages/<pkg>/package.json + dist/ + node_modules/  (symlinks, all relative)
#   app/templates/                    (extension only: the repo's templates/)
# which the Dockerfiles in deploy/images/ COPY to /app. A .dockerignore in each context drops
# workspace packages the image does not need.
set -euo pipefail
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/engine.sh"

ALL_IMAGES=(core extension proxy demo cli)
OFFICIAL_NODE_IMAGE="node:20-bookworm-slim"
OFFICIAL_NGINX_IMAGE="nginx:1.26-bookworm"
LOCAL_BASE_IMAGE="signalbox-base:local"
PULL_STAMP="$REPO_ROOT/.build/official-pull-failed"   # skip pull attempts for an hour after a failure

ONLY=""
SKIP_BUILD=0
BASE_MODE="${SIGNALBOX_BASE:-auto}"
FORCE_BASE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) ONLY="$2"; shift ;;
    --only=*) ONLY="${1#--only=}" ;;
    --skip-build) SKIP_BUILD=1 ;;
    --base) BASE_MODE="$2"; shift ;;
    --base=*) BASE_MODE="${1#--base=}" ;;
    --force-base) FORCE_BASE=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done
case "$BASE_MODE" in auto|official|local) ;; *) die "--base must be auto, official or local" ;; esac

# image name -> workspace package dir (packages/<dir>)
pkg_dir_of() {
  case "$1" in
    core) echo core ;; extension) echo extension ;; proxy) echo proxy-agent ;; demo) echo demo-app ;; cli) echo cli ;;
    *) die "unknown image '$1' (known: ${ALL_IMAGES[*]})" ;;
  esac
}

IMAGES=()
if [[ -n "$ONLY" ]]; then
  IFS=',' read -r -a IMAGES <<< "$ONLY"
  for img in "${IMAGES[@]}"; do pkg_dir_of "$img" >/dev/null; done
else
  IMAGES=("${ALL_IMAGES[@]}")
fi

# closure PKGDIR: the package dir plus the dirs of its workspace:* dependencies (recursively).
closure() {
  node -e '
    const fs = require("fs"), path = require("path");
    const [root, start] = process.argv.slice(1);
    const byName = {}, byDir = {};
    for (const d of fs.readdirSync(path.join(root, "packages"))) {
      const f = path.join(root, "packages", d, "package.json");
      if (!fs.existsSync(f)) continue;
      const j = JSON.parse(fs.readFileSync(f, "utf8"));
      byName[j.name] = d; byDir[d] = j;
    }
    const out = new Set();
    const visit = (d) => {
      if (out.has(d)) return;
      if (!byDir[d]) throw new Error("no workspace package in packages/" + d);
      out.add(d);
      for (const [dep, v] of Object.entries(byDir[d].dependencies || {}))
        if (String(v).startsWith("workspace:")) visit(byName[dep] ?? (() => { throw new Error(dep + " is not in the workspace"); })());
    };
    visit(start);
    console.log([...out].join(" "));
  ' "$REPO_ROOT" "$1"
}

pkg_name_of_dir() { node -p 'require(process.argv[1]).name' "$REPO_ROOT/packages/$1/package.json"; }

TOTAL_START="$(now_s)"
need_root
ensure_engine
have flock || die "flock (util-linux) is required"
mkdir -p "$REPO_ROOT/.build/logs"
exec 8>"$REPO_ROOT/.build/build-images.lock"
flock 8   # one build-images.sh at a time per checkout

# --- 1. TypeScript build -------------------------------------------------------------------------
if [[ "$SKIP_BUILD" -eq 0 ]]; then
  t0="$(now_s)"
  workspace_install
  if [[ -z "$ONLY" ]]; then
    workspace_build
  else
    dirs=()
    for img in "${IMAGES[@]}"; do dirs+=("$(pkg_dir_of "$img")"); done
    workspace_build "${dirs[@]}"
  fi
  # The dashboard page core serves (packages/dashboard/dist), bundled by Vite.
  if [[ " ${IMAGES[*]} " == *" core "* ]]; then
    ( cd "$REPO_ROOT" && pnpm --filter @signalbox/dashboard run build ) > "$REPO_ROOT/.build/logs/dashboard.log" 2>&1 \
      || { tail -n 40 "$REPO_ROOT/.build/logs/dashboard.log" >&2; die "dashboard page build failed (log: .build/logs/dashboard.log)"; }
  fi
  log "workspace built in $(elapsed "$t0")s"
else
  ensure_pnpm
fi
# The proxy runs its agent as one bundled file (dist/bundle/main.mjs): node loads it in a third of the
# time of the module tree, which is on the path of every route that replaces a routing task.
if [[ " ${IMAGES[*]} " == *" proxy "* ]]; then
  ( cd "$REPO_ROOT" && pnpm --filter @signalbox/proxy-agent run bundle ) > "$REPO_ROOT/.build/logs/proxy-bundle.log" 2>&1 \
    || { tail -n 40 "$REPO_ROOT/.build/logs/proxy-bundle.log" >&2; die "proxy agent bundle failed (log: .build/logs/proxy-bundle.log)"; }
fi

# --- 2. build contexts ---------------------------------------------------------------------------
prepare_context() {
  local img="$1" dir pkgname deps d ctx app
  dir="$(pkg_dir_of "$img")"
  pkgname="$(pkg_name_of_dir "$dir")"
  deps="$(closure "$dir")" || die "cannot resolve workspace deps of packages/$dir"
  ctx="$REPO_ROOT/.build/context/$img"
  app="$ctx/app"
  mkdir -p "$app/packages"

  [[ "$img" != core || -f "$REPO_ROOT/packages/dashboard/dist/index.html" ]] \
    || die "packages/dashboard/dist/index.html is missing: build the page (pnpm --filter @signalbox/dashboard run build)"
  for d in $deps; do
    [[ -f "$REPO_ROOT/packages/$d/dist/main.js" || "$d" != "$dir" ]] \
      || die "packages/$d/dist/main.js is missing: the TypeScript build did not produce it"
    [[ -d "$REPO_ROOT/packages/$d/dist" ]] || die "packages/$d/dist is missing (build packages/$d first)"
  done

  # Manifests of the whole workspace (the frozen lockfile covers all importers).
  cp "$REPO_ROOT/package.json" "$REPO_ROOT/pnpm-workspace.yaml" "$app/"
  [[ -f "$REPO_ROOT/pnpm-lock.yaml" ]] && cp "$REPO_ROOT/pnpm-lock.yaml" "$app/"
  [[ -f "$REPO_ROOT/.npmrc" ]] && cp "$REPO_ROOT/.npmrc" "$app/"
  local p name
  for p in "$REPO_ROOT"/packages/*/package.json; do
    name="$(basename "$(dirname "$p")")"
    mkdir -p "$app/packages/$name"
    cp "$p" "$app/packages/$name/package.json"
  done
  # Packages removed from the repo since the last run.
  for p in "$app"/packages/*; do
    [[ -f "$REPO_ROOT/packages/$(basename "$p")/package.json" ]] || rm -rf "$p"
  done

  # Production dependencies of this image's packages only. Scripts are skipped: the only
  # native add-ons (ssh2/cpu-features, via dockerode) are optional and have JS fallbacks.
  local frozen=(--frozen-lockfile)
  [[ -f "$app/pnpm-lock.yaml" ]] || frozen=()
  ( cd "$app" && CI=true pnpm install --prod "${frozen[@]}" --prefer-offline --ignore-scripts \
      --config.confirmModulesPurge=false --reporter=append-only --filter "${pkgname}..." ) \
    > "$REPO_ROOT/.build/logs/install-$img.log" 2>&1 \
    || { tail -n 40 "$REPO_ROOT/.build/logs/install-$img.log" >&2; die "production install for $img failed"; }

  # Compiled output (cp -a keeps mtimes, so unchanged files keep docker's layer cache warm).
  for d in $deps; do
    rm -rf "$app/packages/$d/dist"
    cp -a "$REPO_ROOT/packages/$d/dist" "$app/packages/$d/dist"
    find "$app/packages/$d/dist" -name '*.tsbuildinfo' -delete
  done
  if [[ "$img" == extension ]]; then
    rm -rf "$app/templates"
    if [[ -d "$REPO_ROOT/templates" ]]; then cp -a "$REPO_ROOT/templates" "$app/templates"; else mkdir -p "$app/templates"; fi
  fi

  # Keep only what the image needs.
  {
    echo '# generated by scripts/build-images.sh'
    echo '**/node_modules/.bin'
    echo 'app/node_modules/.modules.yaml'
    echo 'app/node_modules/.pnpm/lock.yaml'
    echo 'app/pnpm-lock.yaml'
    echo 'app/.npmrc'
    echo 'app/node_modules/.pnpm-workspace-state*.json'
    echo 'app/packages/*/node_modules/.bin'
    for p in "$app"/packages/*; do
      name="$(basename "$p")"
      [[ " $deps " == *" $name "* ]] || echo "app/packages/$name"
    done
  } > "$ctx/.dockerignore"

  # Symlinks must be relative and resolve inside the context, or they break after COPY.
  local bad
  bad="$(find "$app" -type l -lname '/*' -not -path '*/.bin/*' | head -n 5)"
  [[ -z "$bad" ]] || die "absolute symlinks in the $img context (would dangle in the image): $bad"
  for d in $deps; do
    bad="$(find "$app/packages/$d" "$app/node_modules" -xtype l -not -path '*/.bin/*' 2>/dev/null | head -n 5)"
    [[ -z "$bad" ]] || die "dangling symlinks in the $img context: $bad"
  done
}

t0="$(now_s)"
for img in "${IMAGES[@]}"; do prepare_context "$img"; done
log "build contexts ready in $(elapsed "$t0")s (.build/context/{$(IFS=,; echo "${IMAGES[*]}")})"

# --- 3. base images ------------------------------------------------------------------------------
needs_nginx=0
for img in "${IMAGES[@]}"; do [[ "$img" == extension || "$img" == proxy ]] && needs_nginx=1; done

have_or_pull() {
  local ref="$1"
  docker image inspect "$ref" >/dev/null 2>&1 && return 0
  if [[ -f "$PULL_STAMP" ]] && [[ -n "$(find "$PULL_STAMP" -mmin -60 2>/dev/null)" ]]; then
    return 1   # a pull failed less than an hour ago: don't wait again
  fi
  log "trying docker pull $ref (20s max)"
  if timeout 20 docker pull -q "$ref" >/dev/null 2>&1; then return 0; fi
  touch "$PULL_STAMP"
  return 1
}

use_official=0
case "$BASE_MODE" in
  official) use_official=1 ;;
  local) use_official=0 ;;
  auto)
    use_official=1
    have_or_pull "$OFFICIAL_NODE_IMAGE" || use_official=0
    if [[ "$use_official" -eq 1 && "$needs_nginx" -eq 1 ]]; then
      have_or_pull "$OFFICIAL_NGINX_IMAGE" || use_official=0
    fi
    ;;
esac

BUILD_ARGS=()
if [[ "$use_official" -eq 1 ]]; then
  log "base images: official ($OFFICIAL_NODE_IMAGE, $OFFICIAL_NGINX_IMAGE)"
else
  log "base images: $LOCAL_BASE_IMAGE (official images not available offline)"
  base_args=()
  [[ "$FORCE_BASE" -eq 1 ]] && base_args+=(--force)
  "$REPO_ROOT/scripts/build-base-image.sh" "${base_args[@]}" --tag "$LOCAL_BASE_IMAGE"
  BUILD_ARGS=(--build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE" --build-arg "NODE_IMAGE=$LOCAL_BASE_IMAGE")
fi

# --- 4. docker build -----------------------------------------------------------------------------
# Plain `docker build`: BuildKit via buildx when installed, else the classic builder
# (Debian's docker.io has no buildx; DOCKER_BUILDKIT=1 without it would fail).
if ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi

for img in "${IMAGES[@]}"; do
  tag="signalbox-$img:local"
  t0="$(now_s)"
  old_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  # NODE_IMAGE is unused by the core/demo Dockerfiles; the classic builder only warns about it.
  docker build -f "$REPO_ROOT/deploy/images/$img.Dockerfile" -t "$tag" "${BUILD_ARGS[@]}" \
      "$REPO_ROOT/.build/context/$img" > "$REPO_ROOT/.build/logs/build-$img.log" 2>&1 \
    || { tail -n 40 "$REPO_ROOT/.build/logs/build-$img.log" >&2; die "docker build of $tag failed (log: .build/logs/build-$img.log)"; }
  new_id="$(docker image inspect -f '{{.Id}}' "$tag")"
  if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
    # Our previous build of this tag, now untagged: drop it unless something still uses it.
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
  [[ "$img" == cli ]] && docker tag "$tag" signalbox-cli:latest
  size="$(docker image inspect -f '{{.Size}}' "$tag")"
  if [[ "$old_id" == "$new_id" ]]; then state=unchanged; else state=built; fi
  log "$tag $state in $(elapsed "$t0")s ($(( size / 1024 / 1024 ))MB)"
done

# Older builds of ours that were still used by a container when replaced: drop them once unused
# (only untagged images carrying our title label; images in use are left alone).
for img in "${ALL_IMAGES[@]}" base; do
  docker images -q -f dangling=true -f "label=org.opencontainers.image.title=signalbox-$img" \
    | xargs -r docker rmi >/dev/null 2>&1 || true
done

log "images done in $(elapsed "$TOTAL_START")s: $(printf 'signalbox-%s:local ' "${IMAGES[@]}")"
