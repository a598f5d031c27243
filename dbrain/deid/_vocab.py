"""Words that are *not* personal names, in one place.

Annotation texts are searched for runs of Capitalised Words that could be a
person's name (``John Smith``). Clinical and EEG vocabulary is also written
in title case (``Eyes Closed``, ``Photic Stimulation``, ``Sleep Stage W``), so
every word listed here is exempt. Words are lower case; a hyphenated word
(``K-Complex``) is exempt when each of its parts is.

Edit this list, not the detector, when a clinical term is redacted by mistake.
"""

from __future__ import annotations

_CLINICAL = """
eyes eye open opened opening closed close closing blink blinks blinking
photic stimulation stim stimulus stimuli flash flashes flashing strobe hz
hyperventilation hyperventilating hv post pre recovery
seizure seizures sz onset offset end ends ending start starts started starting stop stops stopped
begin begins beginning finish finished resume resumed pause paused
sleep asleep sleeping wake awake waking woke drowsy drowsiness arousal arousals stage stages
rem nrem unscored unknown movement movements time
spike spikes sharp sharps wave waves slow slowing spindle spindles vertex complex complexes
k kcomplex discharge discharges rhythmic rhythm activity burst bursts suppression periodic
lateralized lateralised generalized generalised focal multifocal diffuse epileptiform
alpha beta theta delta gamma mu lambda posts pattern patterns dominant background
left right temporal frontal central parietal occipital anterior posterior midline bilateral
hemisphere hemispheric
electrode electrodes lead leads impedance impedances check checked calibration calibrate
montage reference ref avg average ground gnd bipolar referential common
sensitivity filter filters gain speed paper notch high low pass
recording record rec video camera audio sound light lights
event events marker markers note notes clip comment comments segment annotation annotations
button push pushed pressed press alarm alert alerted
clinical subclinical electrographic electroclinical possible probable definite questionable
suspected typical atypical brief prolonged
tonic clonic myoclonic myoclonus absence atonic aura jerk jerks jerking twitch twitching
automatism automatisms staring stare unresponsive responsive response
head turn turned turning hand hands arm arms leg legs foot feet face mouth body
chewing talking talk talks swallowing cough coughing yawn yawning crying cry crying
eating eat drinking drink feeding feed bottle nap vomiting vomit hiccup hiccups
moving moved move restless agitated calm quiet still
stimulus response test tests testing task tasks trial trials baseline rest resting
count counting reading read mental arithmetic music noise noisy
ecg ekg emg eog eeg resp respiration respiratory breathing breath apnea apnoea hypopnea
desaturation obstructive mixed snore snoring limb plm oxygen saturation spo2 pulse
position supine prone lateral upright sitting sit standing stand walking walk lying
medication medications drug drugs dose dosed injection given administered
lorazepam ativan diazepam midazolam phenytoin levetiracetam keppra
artifact artifacts artefact artefacts electrical muscle sweat line
disconnected disconnect reconnected reconnect battery unplugged detached reattached
replaced loose popping pop
ok okay good bad poor signal signals quality
room bed bathroom toilet hallway visitor visitors family mother father parent parents
mom dad sibling nurse nurses doctor doctors physician neurologist tech technician
technologist staff team resident fellow attending
entered enter entering exited exit leaving left arrived
in on off out up down at to of the a an and or with without for from by no not is was
has had being after before during while then now again new old first last next
system computer reboot restart restarted software hardware standby network
lab laboratory unit icu emu ward clinic
pt pts present absent called call calls calling said says asked ask reports reported report noted noting
seen see looks looked looking appears appeared normal abnormal possible likely unlikely
please all any some none other others more less very much many few each every
yes maybe unclear confirmed confirm review reviewed reviewing
""".split()

_SLEEP_AND_SCORING = """
w n1 n2 n3 n4 r s1 s2 s3 s4 mt
""".split()

# 10-20 / 10-10 names that are letters only (Fp1, T3 ... contain digits and are
# never taken for capitalised words).
_ELECTRODES = """
fz cz pz oz fpz afz fcz cpz poz iz nz ref a1 a2 m1 m2
""".split()

_CALENDAR = """
monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
morning afternoon evening night day today yesterday tomorrow am pm
""".split()

#: Lower-case words never taken for part of a personal name.
NOT_NAMES: frozenset[str] = frozenset(_CLINICAL + _SLEEP_AND_SCORING + _ELECTRODES + _CALENDAR)

#: Courtesy and professional titles; the capitalised word after one is a name.
HONORIFICS: tuple[str, ...] = (
    "dr",
    "doctor",
    "mr",
    "mrs",
    "ms",
    "mx",
    "miss",
    "prof",
    "professor",
    "sir",
    "dame",
    "nurse",
    "rn",
)

#: Field labels whose value is identifying (``Patient name: …``, ``DOB: …``).
ID_LABELS: tuple[str, ...] = (
    r"(?:patient|pt|subject|child|mother|father)[ _]*(?:name|id|no|number|initials)",
    r"(?:first|last|family|given|sur)[ _]*name",
    r"name",
    r"patient",
    r"pt",
    r"mrn",
    r"dob",
    r"date[ _]+of[ _]+birth",
    r"birth[ _]*date",
    r"born",
    r"technician",
    r"technologist",
    r"tech",
    r"physician",
    r"doctor",
    r"referring[ _]+(?:physician|doctor)",
    r"nurse",
    r"address",
    r"phone",
)

#: Words that fill the EDF+ patient/recording subfields without identifying
#: anyone; they are never treated as PHI strings.
PLACEHOLDERS: frozenset[str] = frozenset(
    """x no name noname unknown anonymous anon none null n/a na patient subject
    female male sex yrs years test""".split()
    + ["no name", "not known", "not available"]
)

#: Titles and roles written next to a person's name in a header field
#: (``Dr_Ann_Lee``, ``Tech_Robertson``); not PHI on their own.
ROLE_WORDS: frozenset[str] = frozenset(
    list(HONORIFICS)
    + """tech techn technician technologist investigator physician neurologist md phd msc bsc
    mrs ms mr jr sr""".split()
)

#: Words of generic institution names; a hospital field's tokens exclude them.
INSTITUTION_WORDS: frozenset[str] = frozenset(
    """hospital hospitals clinic clinics clinical university universitaire universitat universidad
    medical medicine center centre department dept institute institut children childrens general
    health healthcare care neurology neurological neurophysiology neuroscience neurosciences
    eeg lab laboratory unit saint royal national regional memorial foundation school college
    and the of for de la le du des der und""".split()
)

#: Constants of the EDF format that stay in every output (labels of the
#: annotation signals, the ``Startdate`` keyword, file-type markers); a
#: candidate PHI string contained in one of them is dropped.
STRUCTURAL: tuple[str, ...] = (
    "startdate",
    "edf annotations",
    "bdf annotations",
    "biosemi",
    "24bit",
    "edf+c",
    "edf+d",
    "bdf+c",
    "bdf+d",
)
