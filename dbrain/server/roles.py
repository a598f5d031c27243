"""The roles of the data centre: the one list every module uses.

Site roles belong to exactly one site and see only its data:

* ``admin`` manages the users and reads the audit log of its own site;
* ``clinician`` sees the patient identity of its own site and signs reports;
* ``technologist`` uploads, requests analyses and annotates;
* ``researcher`` reads the de-identified data of its own site;
* ``therapist`` runs the neurofeedback sessions of its own site's courses
  (never sees the sham/real allocation of a course).

The instance role ``instance_admin`` belongs to no site: it creates sites and
manages the users of any site, reads the instance-level audit events (e.g.
failed logins of unknown accounts), and sees no patient data. It is created
only with ``dbrain admin create-user --role instance_admin`` on the server's
shell, never through a site's API.
"""

from __future__ import annotations

#: Roles that belong to one site.
SITE_ROLES = ("admin", "clinician", "technologist", "researcher", "therapist")
#: The instance-level administrator (no site, no patient data).
INSTANCE_ADMIN = "instance_admin"
#: Every role a user can have.
ROLES = (*SITE_ROLES, INSTANCE_ADMIN)

#: Roles allowed to do each kind of thing with a site's data.
CAN_UPLOAD = ("admin", "clinician", "technologist")
CAN_ANALYSE = ("admin", "clinician", "technologist")
CAN_ANNOTATE = ("clinician", "technologist")
CAN_SEE_IDENTITY = ("clinician",)
CAN_SIGN = ("clinician",)
#: Every site role: reads of the caller's own site's de-identified data.
ANY_SITE_ROLE = SITE_ROLES
#: Roles that manage users (a site admin: its own site's only).
CAN_MANAGE_USERS = ("admin", INSTANCE_ADMIN)
#: Neurofeedback (docs/nfb-centre.md): who prescribes a course (and enters outcomes, signs off safety),
#: who runs its sessions and reads their reports, and who may unblind a course's sham/real allocation.
CAN_PRESCRIBE_NFB = ("clinician",)
CAN_RUN_NFB = ("clinician", "therapist")
CAN_UNBLIND = ("admin", "clinician")
#: The live ward (docs/ward.md). A bedside monitor posts with the API token of a technologist of the
#: bed's site: the monitor also uploads the session's recording at the end, which technologists already
#: may (CAN_UPLOAD), and a new role would have to be kept out of every SITE_ROLES read by hand.
CAN_POST_WARD = ("technologist",)
#: Who watches the ward page (researchers do not monitor patients live).
CAN_WATCH_WARD = ("admin", "clinician", "technologist")
#: Who acknowledges a ward alarm.
CAN_ACK_ALARM = ("clinician",)
#: Who adds and removes beds.
CAN_MANAGE_BEDS = ("admin",)
