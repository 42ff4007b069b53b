"""Render a private Asterisk configuration tree for the lab.

Everything binds to loopback: AMI and PJSIP on 127.0.0.1, on ports the caller picks.
Only PJSIP is loaded (chan_sip and the other channel drivers that would grab
well-known ports are kept out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.dialplan.contract import CONTRACT_NAME, contract_text
from callcenter.dialplan.render import render_files, render_queues

if TYPE_CHECKING:
    from callcenter.config import Config

# Modules that would bind ports, need hardware or external services, or are not used.
NOLOAD = (
    "chan_sip.so",
    "chan_iax2.so",
    "chan_skinny.so",
    "chan_mgcp.so",
    "chan_unistim.so",
    "chan_dahdi.so",
    "chan_motif.so",
    "chan_ooh323.so",
    "chan_alsa.so",
    "chan_oss.so",
    "chan_console.so",
    "chan_mobile.so",
    "chan_phone.so",
    "chan_rtp.so",
    "res_pjsip_transport_websocket.so",
    "res_http_websocket.so",
    "res_hep.so",
    "res_hep_pjsip.so",
    "res_hep_rtcp.so",
    "res_snmp.so",
    "res_xmpp.so",
    "res_phoneprov.so",
    "res_pjsip_phoneprov_provider.so",
    "res_calendar.so",
    "res_calendar_caldav.so",
    "res_calendar_ews.so",
    "res_calendar_exchange.so",
    "res_calendar_icalendar.so",
    "res_corosync.so",
    "res_statsd.so",
    "res_smdi.so",
    "res_odbc.so",
    "res_odbc_transaction.so",
    "res_config_odbc.so",
    "res_config_pgsql.so",
    "res_config_ldap.so",
    "res_config_mysql.so",
    "res_config_sqlite3.so",
    "res_pktccops.so",
    "res_fax.so",
    "res_fax_spandsp.so",
    "res_stun_monitor.so",
    "res_ari.so",
    "res_stasis.so",
    "cdr_pgsql.so",
    "cdr_odbc.so",
    "cdr_adaptive_odbc.so",
    "cdr_tds.so",
    "cdr_radius.so",
    "cel_pgsql.so",
    "cel_odbc.so",
    "cel_tds.so",
    "cel_radius.so",
    "cdr_sqlite3_custom.so",
    "cel_sqlite3_custom.so",
    "cdr_custom.so",
    # CEL goes to the custom CSV (the PBX record) only, never as AMI events too.
    "cel_manager.so",
    "cdr_syslog.so",
    "cdr_beanstalkd.so",
    "cel_beanstalkd.so",
    "app_festival.so",
    "app_voicemail.so",
    "app_minivm.so",
    "res_pjsip_stir_shaken.so",
    "res_stir_shaken.so",
    "res_geolocation.so",
    "pbx_lua.so",
    "pbx_ael.so",
    "pbx_dundi.so",
    "res_config_curl.so",
    "func_odbc.so",
    "app_mysql.so",
    "res_mwi_external.so",
    "res_mwi_external_ami.so",
    "res_ael_share.so",
    "res_prometheus.so",
)


MANAGER_READ = "system,call,agent,user"
MANAGER_WRITE = "system,call,agent,reporting,originate"


@dataclass(frozen=True)
class LabPorts:
    sip: int
    ami: int


def _asterisk_conf(work: Path) -> str:
    dirs = {
        "astetcdir": work / "etc",
        "astmoddir": Path("/usr/lib/asterisk/modules"),
        "astvarlibdir": work / "lib",
        "astdbdir": work / "lib",
        "astkeydir": work / "lib",
        "astdatadir": Path("/usr/share/asterisk"),
        "astagidir": Path("/usr/share/asterisk/agi-bin"),
        "astspooldir": work / "spool",
        "astrundir": work / "run",
        "astlogdir": work / "log",
        "astsbindir": Path("/usr/sbin"),
        "astcachedir": work / "cache",
    }
    lines = ["[directories]"] + [f"{k} => {v}" for k, v in dirs.items()]
    lines += [
        "[options]",
        "verbose = 2",
        "debug = 0",
        "nocolor = yes",
        "transmit_silence = yes",
        "systemname = cclab",  # prefixes Uniqueids, so ids of two servers never collide
        "",
    ]
    return "\n".join(lines)


def _modules_conf() -> str:
    return "[modules]\nautoload = yes\n" + "".join(f"noload => {m}\n" for m in NOLOAD)


def _manager_conf(cfg: Config, ports: LabPorts, secret: str) -> str:
    return f"""[general]
enabled = yes
webenabled = no
bindaddr = 127.0.0.1
port = {ports.ami}
; allow events to queue up while the daemon is briefly busy instead of dropping it
writetimeout = 5000
displayconnects = no
; every event carries Asterisk's own time: call times do not depend on delivery delays
timestampevents = yes

[{cfg.ami.username}]
secret = {secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.0/255.0.0.0
; The least the daemon needs (the README documents the same for an existing Asterisk):
; read: system (FullyBooted), call (channels, bridges, transfers, parking),
;       agent (queue and member events), user (the dialplan's UserEvents);
; write: system (AstDB mode switch), call (park, transfer), agent (QueueAdd/Pause),
;        reporting (QueueStatus, CoreShowChannels), originate (pick a parked call up).
read = {MANAGER_READ}
write = {MANAGER_WRITE}
writetimeout = 5000
"""


def _pjsip_conf(cfg: Config, ports: LabPorts) -> str:
    out = [
        f"""; Loopback only: SIP transactions may time out fast, so a phone that is not
; running fails in about 6 s instead of 32 s (its INVITE retransmissions would
; otherwise reach whatever listens on that port next). 64 x T1 is the least timer B.
[system]
type = system
timer_t1 = 100
timer_b = 6400

[global]
type = global
user_agent = callcenter-lab
endpoint_identifier_order = ip,username

[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{ports.sip}

; Calls from the public network arrive through a trunk; in the lab the trunk is
; whatever sends from {cfg.lab.trunk_address}.
[trunk]
type = endpoint
transport = transport-udp
context = from-trunk
disallow = all
allow = ulaw,alaw
direct_media = no
rtp_symmetric = yes
trust_id_inbound = yes
send_pai = no
aors = trunk

[trunk]
type = identify
endpoint = trunk
match = {cfg.lab.trunk_address}

; Calls out through the trunk (the follow-up list's call-backs) go to the caller's
; phone in the lab: whatever listens on {cfg.lab.trunk_address}:{cfg.lab.trunk_port}.
[trunk]
type = aor
contact = sip:{cfg.lab.trunk_address}:{cfg.lab.trunk_port}
"""
    ]
    # Agents' phones and transfer targets: the same snippet `dialplan render` writes.
    out.append('#include "callcenter-pjsip.conf"\n')
    return "\n".join(out)


def _logger_conf() -> str:
    # The queue_log is the agents' record while the daemon does not see the PBX
    # (docs/decisions/0016): on, and to the file even if a realtime queue_log is set.
    return (
        "[general]\nqueue_log = yes\nqueue_log_to_file = yes\nqueue_log_name = queue_log\n"
        "[logfiles]\nmessages => notice,warning,error,verbose(2)\n"
    )


def _queues_conf(cfg: Config) -> str:
    # log_membername_as_agent = no (Asterisk's default, said out loud): ADDMEMBER and
    # REMOVEMEMBER lines name the interface (PJSIP/<agent id>), the others the member's
    # name; the queue_log reader maps both to the agent id (agents/pbxsource.py).
    general = (
        "[general]\npersistentmembers = no\nautofill = yes\nshared_lastcall = yes\n"
        "monitor-type = MixMonitor\nlog_membername_as_agent = no\n\n"
    )
    return general + render_queues(cfg)


def _extensions_conf(etc: Path) -> str:
    return f"""[general]
static = yes
writeprotect = yes

#include "{etc / CONTRACT_NAME}"
#include "{etc / "callcenter-routes.conf"}"

; The trunk: published numbers first, then anything else is unrouted.
; (Asterisk matches a context's own patterns before its includes, hence two includes.)
[from-trunk]
include => callcenter-routes
include => callcenter-unrouted

[callcenter-unrouted]
exten => _X.,1,Goto(callcenter-entry,${{EXTEN}},1)
"""


def render_lab(cfg: Config, work: Path, ports: LabPorts, secret: str) -> Path:
    """Write the lab's configuration tree under ``work`` and return asterisk.conf's path."""
    etc = work / "etc"
    for sub in ("etc", "lib", "spool", "run", "log", "log/cel-custom", "cache"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    files = {
        "asterisk.conf": _asterisk_conf(work),
        "modules.conf": _modules_conf(),
        "logger.conf": _logger_conf(),
        "manager.conf": _manager_conf(cfg, ports, secret),
        "pjsip.conf": _pjsip_conf(cfg, ports),
        "queues.conf": _queues_conf(cfg),
        "extensions.conf": _extensions_conf(etc),
        # A copy of the contract from the package: the lab's tree is whole on its own, and
        # an installed wheel has no source tree to point at.
        CONTRACT_NAME: contract_text(),
        **{
            k: v
            for k, v in render_files(
                cfg, cfg.service, cfg.incidents, followups=cfg.followups, sounds=cfg.sounds_dir()
            ).items()
            if k != "callcenter-queues.conf"
        },
        "rtp.conf": f"[general]\nrtpstart = {cfg.lab.rtp_start}\nrtpend = {cfg.lab.rtp_end}\n",
        "musiconhold.conf": "[default]\nmode = files\ndirectory = moh\n",
        # *2: the attended-transfer code the daemon's Atxfer action plays for the agent.
        # The park and transfer codes (the daemon's Atxfer plays the atxfer code) and lots.
        "features.conf": '#include "callcenter-features.conf"\n',
        "res_parking.conf": '[general]\n#include "callcenter-parking.conf"\n',
        "cdr.conf": "[general]\nenable = no\n",
        "pjproject.conf": "; defaults\n",
        "cel.conf": '#include "callcenter-cel.conf"\n',
        "cel_custom.conf": '#include "callcenter-cel-custom.conf"\n',
        "http.conf": "[general]\nenabled = no\n",
        "indications.conf": "[general]\ncountry = jp\n[jp]\ndescription = Japan\n"
        "ringcadence = 1000,2000\ndial = 400\nbusy = 400/500,0/500\nring = 400+15/1000,0/2000\n"
        "congestion = 400/500,0/500\ncallwaiting = 400+16/500,0/8000\n",
    }
    for name, text in files.items():
        path = etc / name
        path.write_text(text, encoding="utf-8")
    (etc / "manager.conf").chmod(0o600)
    (etc / "pjsip.conf").chmod(0o600)
    (etc / "callcenter-pjsip.conf").chmod(0o600)  # the agents' SIP passwords
    return etc / "asterisk.conf"
