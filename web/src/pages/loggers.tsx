// Loggers: what each one reports about itself (online, last seen, firmware, signal, queue), its
// machines, and for admins: claim a pending logger, rename, allow keyless, rotate key, delete,
// and give a machine its name, line, area, short-stop threshold and target availability.

import { useComputed } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import { api, type Asset, type Logger } from '../api';
import { parseTargetPercent, targetPercentText } from '../analytics';
import { describeRssi, formatAgo, formatDuration, formatTarget } from '../format';
import { PendingLoggers } from '../pending';
import { isAdmin, zone } from '../session';
import { now, onLive, refreshBoard } from '../store';
import { formatDateTime } from '../time';
import { Confirm, CopyText, Empty, ErrorNote, Loading, useData, useTitle } from '../ui';

function ClaimForm({ onClaimed }: { onClaimed: (l: Logger) => void }) {
  const [loggerId, setLoggerId] = useState('');
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card inline-form"
      aria-labelledby="claim-title"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          const logger = await api.claim(loggerId.trim(), code.trim());
          setLoggerId('');
          setCode('');
          onClaimed(logger);
        } catch (err) {
          setError(
            err instanceof Error && 'status' in err && err.status === 404
              ? new Error('No pending logger has this id and code. Check both on the logger’s display; a claimed logger cannot be claimed again.')
              : err,
          );
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="claim-title" style="flex-basis:100%">
        Claim a logger
      </h2>
      <p class="hint" style="flex-basis:100%;margin:0">
        A new logger waits as pending. Its display (or its local web page) shows its id and an 8-letter claim code.
      </p>
      <label>
        Logger id
        <input name="logger_id" required value={loggerId} placeholder="esp32-A1B2C3" onInput={(e) => setLoggerId(e.currentTarget.value)} />
      </label>
      <label>
        Claim code
        <input
          name="claim_code"
          required
          value={code}
          placeholder="K7QH2MZP"
          autocomplete="off"
          style="text-transform:uppercase"
          onInput={(e) => setCode(e.currentTarget.value)}
        />
      </label>
      <button class="primary" type="submit" disabled={busy}>
        {busy ? 'Claiming…' : 'Claim'}
      </button>
      <div style="flex-basis:100%">
        <ErrorNote error={error} />
      </div>
    </form>
  );
}

/** Empty means none: the API clears a line or area with null. */
function orNull(text: string): string | null {
  const t = text.trim();
  return t === '' ? null : t;
}

/** What a machine's line shows besides its name: pin, line and area, own threshold and target. */
function assetFacts(asset: Asset): string {
  const facts = [`pin ${asset.pin_number}`];
  if (asset.line) facts.push(asset.area ? `${asset.line} · ${asset.area}` : asset.line);
  else if (asset.area) facts.push(asset.area);
  if (asset.short_stop_threshold_s) facts.push(`short stops under ${asset.short_stop_threshold_s} s`);
  if (asset.target_availability !== null) facts.push(`target ${formatTarget(asset.target_availability)}`);
  return facts.join(', ');
}

function AssetRow({ asset, admin, onSaved }: { asset: Asset; admin: boolean; onSaved: (a: Asset) => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(asset.name);
  const [threshold, setThreshold] = useState(asset.short_stop_threshold_s?.toString() ?? '');
  const [line, setLine] = useState(asset.line ?? '');
  const [area, setArea] = useState(asset.area ?? '');
  const [target, setTarget] = useState(targetPercentText(asset.target_availability));
  const [error, setError] = useState<unknown>(null);
  return (
    <li data-asset-id={asset.id}>
      <span class={`state-dot ${asset.state.toLowerCase()}`} aria-hidden="true" />
      {asset.name} <span class="hint">({assetFacts(asset)})</span>
      {admin && !editing && (
        <button type="button" class="link" aria-label={`Edit ${asset.name}`} onClick={() => setEditing(true)}>
          Edit
        </button>
      )}
      {editing && (
        <form
          class="inline-form"
          aria-label={`Edit ${asset.name}`}
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const t = threshold.trim();
              const goal = parseTargetPercent(target);
              if ('error' in goal) throw new Error(goal.error);
              onSaved(
                await api.updateAsset(asset.id, {
                  name,
                  short_stop_threshold_s: t === '' ? null : Number(t),
                  line: orNull(line),
                  area: orNull(area),
                  target_availability: goal.ok,
                }),
              );
              setEditing(false);
            } catch (err) {
              setError(err);
            }
          }}
        >
          <label>
            Machine name
            <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Line <span class="hint">empty: none</span>
            <input maxLength={50} list="known-lines" value={line} onInput={(e) => setLine(e.currentTarget.value)} />
          </label>
          <label>
            Area <span class="hint">empty: none</span>
            <input maxLength={50} list="known-areas" value={area} onInput={(e) => setArea(e.currentTarget.value)} />
          </label>
          <label>
            Short-stop threshold (s) <span class="hint">empty: the plant’s</span>
            <input type="number" min={1} max={86400} value={threshold} onInput={(e) => setThreshold(e.currentTarget.value)} />
          </label>
          <label>
            Target availability (%) <span class="hint">empty: the plant’s</span>
            <input type="number" min={1} max={100} step={0.01} value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
          <ErrorNote error={error} />
        </form>
      )}
    </li>
  );
}

/** The lines and areas the plant's machines already name, offered while typing so that one line keeps one spelling. */
function KnownPlaces({ loggers }: { loggers: Logger[] }) {
  const assets = loggers.flatMap((l) => l.assets);
  const distinct = (values: (string | null)[]) => [...new Set(values.filter((v): v is string => v !== null))].sort();
  return (
    <>
      <datalist id="known-lines">
        {distinct(assets.map((a) => a.line)).map((v) => (
          <option key={v} value={v} />
        ))}
      </datalist>
      <datalist id="known-areas">
        {distinct(assets.map((a) => a.area)).map((v) => (
          <option key={v} value={v} />
        ))}
      </datalist>
    </>
  );
}

function LoggerCard({ logger, onChange, onDeleted }: { logger: Logger; onChange: (l: Logger) => void; onDeleted: () => void }) {
  const admin = isAdmin.value;
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(logger.name);
  const [confirm, setConfirm] = useState<'rotate' | 'delete' | null>(null);
  const [purge, setPurge] = useState(false);
  const [newKey, setNewKey] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const lastSeen = useComputed(() => formatAgo(logger.last_seen, now.value));
  const run = async (f: () => Promise<void>) => {
    setError(null);
    try {
      await f();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <article class="card logger-card" aria-labelledby={`lg-${logger.id}`} data-logger={logger.logger_id}>
      <div class="head">
        <h2 id={`lg-${logger.id}`}>{logger.name}</h2>
        <span class="status">
          <span class={`state-dot ${logger.online ? 'online' : 'offline'}`} aria-hidden="true" />
          {logger.online ? 'Online' : 'Offline'}
        </span>
      </div>
      <dl>
        <div>
          <dt>Logger id</dt>
          <dd>
            <code>{logger.logger_id}</code>
          </dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd title={logger.last_seen ? formatDateTime(logger.last_seen, zone.value) : undefined}>{lastSeen}</dd>
        </div>
        <div>
          <dt>Firmware</dt>
          <dd>{logger.firmware_version ?? '—'}</dd>
        </div>
        <div>
          <dt>Wi-Fi signal</dt>
          <dd>{describeRssi(logger.rssi)}</dd>
        </div>
        <div>
          <dt>Queued events</dt>
          <dd>{logger.queued_events ?? '—'}</dd>
        </div>
        <div>
          <dt>Dropped events</dt>
          <dd>
            {logger.dropped_events ? (
              <strong class="warn-text" title="Its queue was full: these changes never reached the server">
                {logger.dropped_events} lost
              </strong>
            ) : (
              (logger.dropped_events ?? '—')
            )}
          </dd>
        </div>
        <div>
          <dt>Uptime</dt>
          <dd>{logger.uptime_s === null ? '—' : formatDuration(logger.uptime_s * 1000)}</dd>
        </div>
        <div>
          <dt>IP address</dt>
          <dd>{logger.ip_address ?? '—'}</dd>
        </div>
        <div>
          <dt>Keyless reports</dt>
          <dd>{logger.allow_keyless ? 'Allowed' : 'Key required'}</dd>
        </div>
      </dl>
      <h3 class="hint">Machines</h3>
      {logger.assets.length === 0 ? (
        <p class="hint">None yet: a machine appears with the logger’s first report of its input.</p>
      ) : (
        <ul>
          {logger.assets.map((a) => (
            <AssetRow
              key={a.id}
              asset={a}
              admin={admin}
              onSaved={(saved) => {
                onChange({ ...logger, assets: logger.assets.map((x) => (x.id === saved.id ? saved : x)) });
                void refreshBoard();
              }}
            />
          ))}
        </ul>
      )}
      {admin && (
        <div class="actions" style="justify-content:flex-start">
          {renaming ? (
            <form
              class="inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                void run(async () => {
                  onChange(await api.updateLogger(logger.id, { name }));
                  setRenaming(false);
                  void refreshBoard();
                });
              }}
            >
              <label>
                New name
                <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
              </label>
              <button type="submit" class="primary">
                Save name
              </button>
              <button type="button" onClick={() => setRenaming(false)}>
                Cancel
              </button>
            </form>
          ) : (
            <button type="button" onClick={() => setRenaming(true)}>
              Rename
            </button>
          )}
          <label class="inline">
            <input
              type="checkbox"
              checked={logger.allow_keyless}
              onChange={(e) => {
                const allow = e.currentTarget.checked;
                void run(async () => onChange(await api.updateLogger(logger.id, { allow_keyless: allow })));
              }}
            />
            Allow keyless reports
          </label>
          <button type="button" onClick={() => setConfirm('rotate')}>
            Rotate key
          </button>
          <button type="button" class="danger" onClick={() => setConfirm('delete')}>
            Delete
          </button>
        </div>
      )}
      {newKey && (
        <div class="notice ok" role="status">
          <p style="margin-top:0">New device key for {logger.name}. It is shown only now: enter it on the logger; the old key no longer works.</p>
          <CopyText text={newKey} label="device key" />
        </div>
      )}
      <ErrorNote error={error} />
      <Confirm
        open={confirm === 'rotate'}
        title={`Rotate the key of ${logger.name}?`}
        confirmLabel="Rotate key"
        onCancel={() => setConfirm(null)}
        onConfirm={() => {
          setConfirm(null);
          void run(async () => setNewKey((await api.rotateKey(logger.id)).device_key));
        }}
      >
        <p>The logger stops being accepted until it is given the new key.</p>
      </Confirm>
      <Confirm
        open={confirm === 'delete'}
        title={`Delete ${logger.name}?`}
        confirmLabel="Delete logger"
        danger
        onCancel={() => setConfirm(null)}
        onConfirm={() => {
          setConfirm(null);
          void run(async () => {
            await api.deleteLogger(logger.id, purge);
            onDeleted();
            void refreshBoard();
          });
        }}
      >
        <p>Its key stops working at once and its machines leave the board. If it reports again, it comes back as a new pending logger.</p>
        <label class="inline">
          <input type="checkbox" checked={purge} onChange={(e) => setPurge(e.currentTarget.checked)} />
          Also erase its machines and their whole history
        </label>
      </Confirm>
    </article>
  );
}

export function Loggers() {
  useTitle('Loggers');
  const { data, error, reload, setData } = useData(() => api.loggers(), []);
  useEffect(() => {
    const every = setInterval(reload, 15_000);
    const off = onLive((m) => {
      if (m.type === 'logger_status') {
        setData((list) => {
          if (!list) return list;
          if (!list.some((l) => l.logger_id === m.logger_id)) {
            reload();
            return list;
          }
          return list.map((l) => (l.logger_id === m.logger_id ? { ...l, online: m.online, last_seen: Date.parse(m.last_seen) } : l));
        });
      }
    });
    return () => {
      clearInterval(every);
      off();
    };
  }, []);
  const admin = isAdmin.value;
  const replace = (logger: Logger) => setData((list) => list?.map((l) => (l.id === logger.id ? logger : l)) ?? null);
  return (
    <main id="main">
      <div class="page-head">
        <h1>Loggers</h1>
      </div>
      {admin && (
        <ClaimForm
          onClaimed={(logger) => {
            setData((list) => [...(list ?? []).filter((l) => l.id !== logger.id), logger].sort((a, b) => a.name.localeCompare(b.name)));
            void refreshBoard();
          }}
        />
      )}
      {admin && <PendingLoggers claimed={data?.length ?? 0} />}
      <ErrorNote error={error} />
      {!data && !error && <Loading what="loggers" />}
      {data && data.length === 0 && (
        <Empty title="No loggers yet">
          <p>
            Start simulated machines with <code>assetlog-agent simulate --server {window.location.origin}</code>, or flash an ESP32-C3 logger
            with the server URL <code>{window.location.origin}</code>.
            {admin ? ' Then claim it above with the id and code on its display.' : ' Then ask an admin to claim it.'}
          </p>
        </Empty>
      )}
      {data && admin && <KnownPlaces loggers={data} />}
      {data && data.length > 0 && (
        <div class="logger-list" style="margin-top:1rem">
          {data.map((l) => (
            <LoggerCard key={l.id} logger={l} onChange={replace} onDeleted={() => setData((list) => list?.filter((x) => x.id !== l.id) ?? null)} />
          ))}
        </div>
      )}
    </main>
  );
}
