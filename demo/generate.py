#!/usr/bin/env python3
"""Generate the sample invoices of `billbridge demo` (demo/invoices/).

Written by the billbridge team; nothing here is copied from a public corpus. Python 3 standard
library only. Deterministic: running it twice gives byte-identical files (no clock, no randomness;
the PDFs take their dates from the invoices and their /ID from a hash of their content).

    python3 demo/generate.py            # writes demo/invoices/*
    python3 demo/generate.py --check    # fails when a committed file differs from what it writes

What the set shows (see demo/invoices/README.md, generated from the same table):
  * seven of the ten suppliers are beneficiaries seeded in the built-in Qonto sandbox
    (sandbox/README.md), with the same names and IBANs, so that Verification of Payee matches;
  * every bill is EUR, issued November-December 2026, due December 2026-January 2027;
  * totals are consistent (BT-109 = BT-106 - BT-107 + BT-108, BT-112 = BT-109 + BT-110,
    BT-115 = BT-112 - BT-113 + BT-114), computed here with decimal arithmetic;
  * identifiers (SIREN/SIRET, VAT ids, IBANs, RF creditor references, SEPA creditor id) carry
    correct check digits, computed below; they are invented, not real companies' numbers, except
    the sandbox beneficiaries' IBANs.
"""

import hashlib
import json
import sys
import zlib
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).resolve().parent / "invoices"
D = Decimal
CENT = D("0.01")


def q2(x):
    return D(x).quantize(CENT, rounding=ROUND_HALF_UP)


def amt(x):
    return f"{q2(x):.2f}"


# --------------------------------------------------------------------------------------------
# Check digits
# --------------------------------------------------------------------------------------------


def _alnum_to_digits(s):
    return "".join(str(int(c, 36)) for c in s.upper())


def mod97(s):
    return int(_alnum_to_digits(s)) % 97


def iban(country, bban):
    check = 98 - mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


def iban_is_valid(value):
    v = value.replace(" ", "").upper()
    return len(v) >= 15 and mod97(v[4:] + v[:4]) == 1


def rf_reference(ref):
    """ISO 11649 creditor reference for `ref` (1-21 alphanumerics)."""
    assert ref.isalnum() and 1 <= len(ref) <= 21
    check = 98 - mod97(ref + "RF00")
    return f"RF{check:02d}{ref}"


def rf_is_valid(value):
    return value.startswith("RF") and mod97(value[4:] + value[:4]) == 1


def luhn_digit(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:  # these are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(digits):
    return luhn_digit(digits[:-1]) == digits[-1]


def siren(base8):
    return base8 + luhn_digit(base8)


def siret(siren9, nic4):
    return siren9 + nic4 + luhn_digit(siren9 + nic4)


def fr_vat(siren9):
    return f"FR{(12 + 3 * (int(siren9) % 97)) % 97:02d}{siren9}"


def fr_rib_key(bank, branch, account):
    acc = "".join(
        c if c.isdigit() else str("123456789123456789234567890".index(c) % 9 + 1) for c in account
    )
    return f"{97 - (89 * int(bank) + 15 * int(branch) + 3 * int(acc)) % 97:02d}"


def fr_iban(bank, branch, account):
    return iban("FR", bank + branch + account + fr_rib_key(bank, branch, account))


def be_iban(bank3, account7):
    first = bank3 + account7
    check = int(first) % 97 or 97
    return iban("BE", f"{first}{check:02d}")


def es_iban(bank, branch, account):
    weights = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

    def dc(ten):
        d = 11 - sum(int(c) * w for c, w in zip(ten, weights)) % 11
        return {11: 0, 10: 1}.get(d, d)

    return iban("ES", f"{bank}{branch}{dc('00' + bank + branch)}{dc(account)}{account}")


def nl_account(prefix9):
    """A 10-digit Dutch account number passing the 11-test (elfproef)."""
    for last in range(10):
        digits = prefix9 + str(last)
        if sum(int(c) * (10 - i) for i, c in enumerate(digits)) % 11 == 0:
            return digits
    raise ValueError(prefix9)


def de_vat(base8):
    product = 10
    for c in base8:
        s = (int(c) + product) % 10 or 10
        product = (2 * s) % 11
    check = 11 - product
    return f"DE{base8}{0 if check == 10 else check}"


def nl_vat(base8):
    for last in range(10):
        digits = base8 + str(last)
        if (sum(int(c) * (9 - i) for i, c in enumerate(digits[:8])) - int(digits[8])) % 11 == 0:
            return f"NL{digits}B01"
    raise ValueError(base8)


def it_vat(base10):
    return "IT" + base10 + luhn_digit(base10)


def be_enterprise(base8):
    return f"{base8}{97 - int(base8) % 97:02d}"


def es_nif(base8):
    return base8 + "TRWAGMYFPDXBNJZSQVHLCKE"[int(base8) % 23]


def sepa_creditor_id(country, national):
    check = 98 - mod97(national + country + "00")
    return f"{country}{check:02d}ZZZ{national}"


def be_structured(base10):
    check = int(base10) % 97 or 97
    d = f"{base10}{check:02d}"
    return f"+++{d[:3]}/{d[3:7]}/{d[7:]}+++"


SEPA_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")


def sepa_ok(s):
    return set(s) <= SEPA_CHARS


# --------------------------------------------------------------------------------------------
# Parties
# --------------------------------------------------------------------------------------------

BUYER_SIREN = siren("84215937")
BUYER = {
    "name": "Atelier Nord SAS",
    "siren": BUYER_SIREN,
    "vat": fr_vat(BUYER_SIREN),
    "street": "14 rue Nationale",
    "city": "Lille",
    "zip": "59800",
    "country": "FR",
    "endpoint": (BUYER_SIREN, "0225"),
    "email": "factures@atelier-nord.example",
    # Our Qonto account (the sandbox's main account): what a direct debit takes from.
    "iban": "FR7616798000010000005663951",
}

ACME_SIREN = siren("51234806")
MALT_SIREN = siren("53097136")
DURAND_SIREN = siren("39284411")
VOLTA_SIREN = siren("80416652")

SUPPLIERS = {
    "acme": {
        "name": "ACME SAS",
        "trading": "ACME Fournitures",
        "country": "FR",
        "street": "27 boulevard Voltaire",
        "city": "Paris",
        "zip": "75011",
        "vat": fr_vat(ACME_SIREN),
        "legal": (ACME_SIREN, "0002"),
        "ids": [(siret(ACME_SIREN, "0002"), "0009")],
        "endpoint": (ACME_SIREN, "0225"),
        "contact": ("Service comptabilité", "+33 1 43 55 20 10", "compta@acme-fournitures.example"),
        "iban": "FR7630006000011234567890189",
        "bic": "AGRIFRPP",
        "qonto": "seeded, trusted",
    },
    "mueller": {
        "name": "Müller Elektro GmbH",
        "trading": "Müller Elektro",
        "country": "DE",
        "street": "Industriestraße 42",
        "city": "Köln",
        "zip": "50735",
        "vat": de_vat("81275634"),
        "tax_number": "217/5734/1180",
        "legal": ("HRB 48213", None),
        "ids": [],
        "endpoint": ("rechnung@mueller-elektro.example", "EM"),
        "contact": ("Sabine Krause", "+49 221 9876 540", "buchhaltung@mueller-elektro.example"),
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "qonto": "seeded, trusted",
    },
    "vandijk": {
        "name": "Van Dijk Logistics BV",
        "trading": "Van Dijk Logistics",
        "country": "NL",
        "street": "Waalhaven Oostzijde 118",
        "city": "Rotterdam",
        "zip": "3087 BM",
        "vat": nl_vat("81543207"),
        "legal": ("24381756", "0106"),
        "ids": [],
        "endpoint": ("24381756", "0106"),
        "contact": ("Finance desk", "+31 10 428 7700", "invoices@vandijk-logistics.example"),
        "iban": "NL20INGB0001234567",
        "bic": "INGBNL2A",
        "qonto": "seeded, trusted",
    },
    "alice": {
        "name": "Alice In Wonderland",
        "country": "DE",
        "city": "Berlin",
        "vat": de_vat("30718254"),
        "iban": "DE91100000000123456789",
        "bic": None,
        "qonto": "seeded, not trusted",
    },
    "malt": {
        "name": "Malt",
        "trading": "Malt",
        "country": "FR",
        "street": "14 rue du Faubourg Poissonnière",
        "city": "Paris",
        "zip": "75010",
        "vat": fr_vat(MALT_SIREN),
        "legal": (MALT_SIREN, "0002"),
        "ids": [(siret(MALT_SIREN, "0003"), "0009")],
        "endpoint": (MALT_SIREN, "0225"),
        "contact": ("Malt Billing", "+33 1 84 80 49 00", "billing@malt.example"),
        "iban": "DE31100101238050671253",
        "bic": None,
        "qonto": "seeded, not trusted",
    },
    "rossi": {
        "name": "Rossi Forniture SRL",
        "trading": "Rossi Forniture",
        "country": "IT",
        "street": "Via Borgo Palazzo 88",
        "city": "Bergamo",
        "zip": "24125",
        "vat": it_vat("0381274016"),
        "legal": ("BG-402317", None),
        "ids": [],
        "endpoint": ("fatture@rossiforniture.example", "EM"),
        "contact": ("Ufficio amministrazione", "+39 035 241 5500", "amministrazione@rossiforniture.example"),
        "iban": "IT60X0542811101000000123456",
        "bic": "BLOPIT22",
        "qonto": "seeded, not trusted",
    },
    "durand": {
        "name": "Imprimerie Durand SARL",
        "trading": "Imprimerie Durand",
        "country": "FR",
        "street": "5 rue de l'Épeule",
        "city": "Roubaix",
        "zip": "59100",
        "vat": fr_vat(DURAND_SIREN),
        "legal": (DURAND_SIREN, "0002"),
        "ids": [(siret(DURAND_SIREN, "0001"), "0009")],
        "endpoint": (DURAND_SIREN, "0225"),
        "contact": ("Marc Durand", "+33 3 20 70 14 22", "devis@imprimerie-durand.example"),
        "iban": fr_iban("10278", "05900", "00020571401"),
        "bic": "CMCIFR2A",
        "qonto": "new (not a beneficiary yet)",
    },
    "cleanpro": {
        "name": "CleanPro Services SRL",
        "trading": "CleanPro",
        "country": "BE",
        "street": "Rue de la Loi 221",
        "city": "Bruxelles",
        "zip": "1040",
        "vat": "BE" + be_enterprise("07364128"),
        "legal": (be_enterprise("07364128"), "0208"),
        "ids": [],
        "endpoint": (be_enterprise("07364128"), "0208"),
        "contact": ("Nadia Peeters", "+32 2 512 33 90", "facturation@cleanpro.example"),
        "iban": be_iban("310", "1782403"),
        "bic": "BBRUBEBB",
        "qonto": "new (not a beneficiary yet)",
    },
    "lucia": {
        "name": "Lucía Fernández García",
        "trading": "LF Dev Studio",
        "country": "ES",
        "city": "Valencia",
        "vat": "ES" + es_nif("48213756"),
        "iban": es_iban("0081", "0216", "0001293847"),
        "bic": "BSABESBB",
        "qonto": "new (not a beneficiary yet)",
    },
    "volta": {
        "name": "Volta Énergie SAS",
        "trading": "Volta Énergie",
        "country": "FR",
        "street": "2 avenue de la Marne",
        "city": "Marcq-en-Barœul",
        "zip": "59700",
        "vat": fr_vat(VOLTA_SIREN),
        "legal": (VOLTA_SIREN, "0002"),
        "ids": [(siret(VOLTA_SIREN, "0018"), "0009")],
        "endpoint": (VOLTA_SIREN, "0225"),
        "contact": ("Service clients pro", "+33 9 70 81 42 42", "pro@volta-energie.example"),
        "iban": fr_iban("30004", "00819", "00010375281"),
        "bic": "BNPAFRPP",
        "creditor_id": sepa_creditor_id("FR", "8B4T21"),
        "qonto": "new (direct debit: never paid by transfer)",
    },
}

# Van Dijk's "new bank details": a valid Dutch IBAN at another bank (the fraud pattern).
VANDIJK_NEW_IBAN = iban("NL", "RABO" + nl_account("031745862"))

# VAT categories: (code, rate, exemption code, exemption text)
S20 = ("S", D("20"), None, None)
S10 = ("S", D("10"), None, None)
S55 = ("S", D("5.5"), None, None)
S21 = ("S", D("21"), None, None)
K0 = ("K", D("0"), "VATEX-EU-IC", "Intra-Community supply")
AE0 = ("AE", D("0"), "VATEX-EU-AE", "Reverse charge")

PEPPOL = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


# --------------------------------------------------------------------------------------------
# The bills
# --------------------------------------------------------------------------------------------


def L(name, qty, price, vat, unit="C62"):
    return {"name": name, "qty": D(str(qty)), "price": D(str(price)), "vat": vat, "unit": unit}


def bill(file, supplier, fmt, number, issued, days, lines=(), demonstrates="", expected="paid", **kw):
    b = {
        "file": file,
        "supplier": supplier,
        "format": fmt,
        "number": number,
        "issued": date.fromisoformat(issued),
        "due": date.fromisoformat(issued) + timedelta(days=days),
        "lines": list(lines),
        "demonstrates": demonstrates,
        "expected": expected,
        "allowances": [],
        "prepaid": D("0"),
        "rounding": D("0"),
        "reference": number,
        "means": "58",
        "iban": None,
        "iban_print": False,
        "terms": f"{days} days net",
        "note": None,
        "po": None,
        "buyer_ref": None,
        "preceding": None,
    }
    b.update(kw)
    return b


BILLS = [
    # ---- ACME SAS: UBL 2.1 (Peppol BIS 3 / French), trusted at Qonto ---------------------------
    bill("acme-01.xml", "acme", "ubl", "FA-2026-1101", "2026-11-03", 30,
         [L("Ramettes papier A4 80 g (carton de 5)", 40, "24.50", S20),
          L("Toner laser noir TN-2420", 6, "89.00", S20),
          L("Fauteuil de bureau ergonomique", 2, "245.00", S20)],
         "plain UBL invoice to a trusted beneficiary", po="PO-2026-0412",
         terms="Paiement à 30 jours net"),
    bill("acme-02.xml", "acme", "ubl", "FA-2026-1124", "2026-11-10", 30,
         [L("Café en grains bio (sac 1 kg)", 24, "18.90", S55),
          L("Thé et infusions (boîte de 100)", 10, "12.40", S55),
          L("Entretien machine à café (novembre)", 1, "145.00", S20)],
         "two VAT rates (5.5 % and 20 %), one breakdown each", po="PO-2026-0431",
         terms="Paiement à 30 jours net"),
    bill("acme-03.xml", "acme", "ubl", "FA-2026-1150", "2026-11-17", 30,
         [L("Bureau assis-debout 160 x 80", 4, "549.00", S20),
          L("Caisson mobile 3 tiroirs", 4, "129.00", S20),
          L("Lampe LED articulée", 8, "64.90", S20)],
         "document-level allowance (5 % discount) and charge (delivery) in BT-107/BT-108",
         allowances=[(False, "95", "Remise commerciale 5 %", D("161.56"), S20),
                     (True, "FC", "Livraison et montage", D("180.00"), S20)],
         reference=rf_reference("FA20261150"), po="PO-2026-0455",
         terms="Paiement à 30 jours net"),
    bill("acme-04.xml", "acme", "ubl", "FA-2026-1187", "2026-11-24", 30,
         [L("Poste de travail complet (bureau, fauteuil, caisson)", 6, "690.00", S20),
          L("Cloison acoustique 120 x 160", 6, "212.50", S20)],
         "deposit already paid (BT-113 prepaid 2,000.00): only the balance is paid",
         prepaid=D("2000.00"), reference=rf_reference("FA20261187"), po="PO-2026-0470",
         note="Acompte de 2 000,00 EUR reçu le 12/11/2026 déduit.",
         terms="Solde à 30 jours net"),
    bill("acme-05.xml", "acme", "ubl", "FA-2026-1203", "2026-12-01", 30,
         [L("Enveloppes C4 (boîte de 250)", 12, "31.80", S20),
          L("Classeurs à levier dos 80 mm", 60, "3.45", S20),
          L("Stylos gel (boîte de 12)", 15, "9.90", S20)],
         "payee IBAN written in print format (groups of four); RF creditor reference",
         iban_print=True, reference=rf_reference("FA20261203"), po="PO-2026-0502",
         terms="Paiement à 30 jours net"),
    bill("acme-06.xml", "acme", "ubl", "FA-2026-1236", "2026-12-08", 30,
         [L("Ordinateur portable 14 pouces, 32 Go", 5, "1290.00", S20),
          L("Station d'accueil USB-C", 5, "189.00", S20),
          L("Écran 27 pouces QHD", 5, "279.00", S20)],
         "larger invoice (about 10,500 EUR) still below the 30,000 EUR attachment threshold",
         po="PO-2026-0519", terms="Paiement à 30 jours net"),
    bill("acme-07-credit-note.xml", "acme", "ubl-cn", "AV-2026-0031", "2026-11-20", 30,
         [L("Retour : thé et infusions (boîte de 100)", 10, "12.40", S55)],
         "UBL CreditNote for returned goods of FA-2026-1124: owed to us, never paid",
         expected="held: credit_note", preceding=("FA-2026-1124", "2026-11-10"),
         reference="AV-2026-0031", terms="Avoir à déduire du prochain règlement"),

    # ---- Müller Elektro GmbH: XRechnung 3.0 CII (+ one Factur-X PDF), trusted ----------------
    bill("mueller-01.xml", "mueller", "cii-xr", "RE-2026-40117", "2026-11-04", 30,
         [L("LED-Panel 62x62 cm, 40 W, 4000 K", 24, "68.50", K0),
          L("Mantelleitung NYM-J 3x1,5 mm² (Ring 100 m)", 10, "119.00", K0)],
         "XRechnung CII, intra-Community supply (category K, 0 % VAT)",
         buyer_ref="ATELIER-NORD-EINKAUF", po="PO-2026-0418",
         terms="Zahlbar innerhalb 30 Tagen netto"),
    bill("mueller-02.xml", "mueller", "cii-xr", "RE-2026-40152", "2026-11-12", 30,
         [L("Schaltschrank 800x600x250 IP55", 2, "845.00", K0),
          L("FI/LS-Schalter B16 30 mA", 24, "42.80", K0),
          L("Hutschienen-Netzteil 24 V 5 A", 6, "96.40", K0)],
         "XRechnung Skonto terms in BT-20 (#SKONTO#); billbridge pays BT-115 on the due date",
         buyer_ref="ATELIER-NORD-EINKAUF", po="PO-2026-0437",
         terms="#SKONTO#TAGE=10#PROZENT=2.00#\nZahlbar innerhalb 30 Tagen netto"),
    bill("mueller-03.xml", "mueller", "cii-xr", "RE-2026-40198", "2026-11-23", 30,
         [L("Notbeleuchtung Sicherheitsleuchte LED", 18, "74.20", K0),
          L("Montage und Inbetriebnahme vor Ort (Lille)", 16, "78.00", AE0, unit="HUR")],
         "two VAT categories: goods K (intra-Community) and on-site work AE (reverse charge)",
         buyer_ref="ATELIER-NORD-EINKAUF", po="PO-2026-0461",
         terms="Zahlbar innerhalb 30 Tagen netto"),
    bill("mueller-04.xml", "mueller", "cii-xr", "RE-2026-40221", "2026-12-01", 30,
         [L("Industriesteckdose CEE 32 A 5-polig", 12, "38.60", K0),
          L("Kabelkanal 60x110 mm (2 m)", 40, "17.95", K0),
          L("Bewegungsmelder 360°", 20, "29.90", K0)],
         "XRechnung CII with an RF creditor reference in BT-83",
         reference=rf_reference("RE202640221"), buyer_ref="ATELIER-NORD-EINKAUF",
         po="PO-2026-0498", terms="Zahlbar innerhalb 30 Tagen netto"),
    bill("mueller-05.xml", "mueller", "cii-xr", "RE-2026-40246", "2026-12-09", 30,
         [L("Wallbox 11 kW mit Lastmanagement", 3, "1185.00", K0),
          L("Energiezähler MID 3-phasig", 3, "164.00", K0)],
         "XRechnung CII; the payment reference is the invoice number",
         buyer_ref="ATELIER-NORD-EINKAUF", po="PO-2026-0521",
         terms="Zahlbar innerhalb 30 Tagen netto"),
    bill("mueller-06-above-30k.pdf", "mueller", "pdf", "RE-2026-40260", "2026-12-14", 30,
         [L("Niederspannungs-Hauptverteilung 630 A, komplett", 1, "26850.00", K0),
          L("Kupfer-Sammelschienensystem 5-polig", 1, "4120.00", K0),
          L("Überspannungsschutz Typ 1+2", 4, "612.50", K0),
          L("Lieferung frei Baustelle Lille", 1, "390.00", K0)],
         "above 30,000 EUR: Qonto wants the invoice attached; it is a Factur-X PDF, "
         "so billbridge uploads this very file",
         reference=rf_reference("RE202640260"), buyer_ref="ATELIER-NORD-EINKAUF",
         po="PO-2026-0530", terms="Zahlbar innerhalb 30 Tagen netto"),

    # ---- Van Dijk Logistics BV: UBL Peppol BIS 3, trusted --------------------------------------
    bill("vandijk-01.xml", "vandijk", "ubl", "VDL-26-08812", "2026-11-05", 30,
         [L("Road freight Rotterdam - Lille, full truck load", 3, "1150.00", AE0),
          L("Fuel surcharge 7.5 %", 3, "86.25", AE0)],
         "Peppol BIS 3 invoice, reverse charge (AE)", buyer_ref="LOG-2026",
         terms="Payment within 30 days"),
    bill("vandijk-02.xml", "vandijk", "ubl", "VDL-26-08907", "2026-11-16", 30,
         [L("Pallet storage, November (pallet-month)", 42, "18.50", AE0),
          L("Handling in/out", 12, "45.00", AE0, unit="HUR")],
         "Peppol BIS 3, storage and handling", buyer_ref="LOG-2026",
         terms="Payment within 30 days"),
    bill("vandijk-03.xml", "vandijk", "ubl", "VDL-26-09034", "2026-11-27", 30,
         [L("Groupage Rotterdam - Lille (pallet places)", 14, "96.00", AE0),
          L("Tail-lift delivery", 2, "65.00", AE0)],
         "Peppol BIS 3 with an RF creditor reference",
         reference=rf_reference("VDL2609034"), buyer_ref="LOG-2026",
         terms="Payment within 30 days"),
    bill("vandijk-04.xml", "vandijk", "ubl", "VDL-26-09120", "2026-12-04", 30,
         [L("Pallet storage, December (pallet-month)", 38, "18.50", AE0),
          L("Road freight Rotterdam - Lille, full truck load", 1, "1150.00", AE0),
          L("Fuel surcharge 7.5 %", 1, "86.25", AE0)],
         "Peppol BIS 3, the last bill paid to the known IBAN", buyer_ref="LOG-2026",
         terms="Payment within 30 days"),
    bill("vandijk-05-new-iban.xml", "vandijk", "ubl", "VDL-26-09288", "2026-12-15", 30,
         [L("Road freight Rotterdam - Lille, full truck load", 2, "1150.00", AE0),
          L("Fuel surcharge 7.5 %", 2, "86.25", AE0),
          L("Pallet storage, January (pallet-month)", 30, "18.50", AE0)],
         "later bill paying a DIFFERENT valid IBAN (Rabobank) with a 'new bank details' note: "
         "the classic IBAN-change fraud pattern",
         expected="held: iban_changed", iban=VANDIJK_NEW_IBAN, bic="RABONL2U",
         buyer_ref="LOG-2026",
         note="Please note our new bank details: from now on pay to our Rabobank account.",
         terms="Payment within 30 days"),

    # ---- Alice In Wonderland: canonical JSON, not trusted --------------------------------------
    bill("alice-01.json", "alice", "json", "AIW-2026-031", "2026-11-06", 30,
         [L("Illustrations, autumn catalogue (12 plates)", 1, "850.00", AE0)],
         "canonical JSON bill from the ERP", external_id="ERP-AP-10231"),
    bill("alice-02.json", "alice", "json", "AIW-2026-034", "2026-11-18", 30,
         [L("Storyboard, product film", 1, "1275.50", AE0)],
         "JSON amounts given as numbers, not strings", external_id="ERP-AP-10288",
         json_numbers=True),
    bill("alice-03.json", "alice", "json", "AIW-2026-037", "2026-11-30", 30,
         [L("Icon set (48 icons)", 1, "640.00", AE0)],
         "JSON bill with an RF creditor reference", external_id="ERP-AP-10342",
         reference=rf_reference("AIW2026037")),
    bill("alice-04.json", "alice", "json", "AIW-2026-040", "2026-12-09", 30,
         [L("Packaging illustrations, 6 designs", 1, "2100.00", AE0)],
         "JSON bill with a deposit (prepaid_amount 500.00): the balance is paid",
         external_id="ERP-AP-10397", prepaid=D("500.00")),
    bill("alice-05.json", "alice", "json", "AIW-2026-043", "2026-12-18", 30,
         [L("Greeting card artwork", 1, "390.00", AE0)],
         "small JSON bill", external_id="ERP-AP-10455"),

    # ---- Malt: Factur-X PDFs, not trusted ------------------------------------------------------
    bill("malt-01.pdf", "malt", "pdf", "MALT-2026-118274", "2026-11-02", 30,
         [L("Mission développement back-end (jours)", 5, "550.00", S20, unit="DAY"),
          L("Frais de service Malt", 1, "275.00", S20)],
         "Factur-X EN 16931 PDF: the CII travels inside the PDF as factur-x.xml",
         reference="MALT-2026-118274", terms="Paiement à 30 jours"),
    bill("malt-02.pdf", "malt", "pdf", "MALT-2026-121903", "2026-11-16", 30,
         [L("Mission design UX (jours)", 8, "480.00", S20, unit="DAY"),
          L("Frais de service Malt", 1, "384.00", S20)],
         "Factur-X PDF, a second freelance mission", terms="Paiement à 30 jours"),
    bill("malt-03.pdf", "malt", "pdf", "MALT-2026-125466", "2026-11-30", 30,
         [L("Mission data engineering (jours)", 10, "620.00", S20, unit="DAY"),
          L("Frais de service Malt", 1, "620.00", S20)],
         "Factur-X PDF with an RF creditor reference",
         reference=rf_reference("MALT2026125466"), terms="Paiement à 30 jours"),
    bill("malt-04.pdf", "malt", "pdf", "MALT-2026-128150", "2026-12-07", 30,
         [L("Mission rédaction technique (jours)", 3, "420.00", S20, unit="DAY"),
          L("Frais de service Malt", 1, "126.00", S20)],
         "Factur-X PDF, short mission", terms="Paiement à 30 jours"),
    bill("malt-05.pdf", "malt", "pdf", "MALT-2026-131722", "2026-12-21", 30,
         [L("Mission développement mobile (jours)", 12, "590.00", S20, unit="DAY"),
          L("Frais de service Malt", 1, "708.00", S20)],
         "Factur-X PDF due in January 2027", terms="Paiement à 30 jours"),

    # ---- Rossi Forniture SRL: CII (Factur-X EN 16931), not trusted -----------------------------
    bill("rossi-01.xml", "rossi", "cii", "2026/0418", "2026-11-09", 30,
         [L("Sedia impilabile in faggio", 30, "78.00", K0),
          L("Tavolo riunioni rovere 240x110", 1, "1390.00", K0)],
         "CII Factur-X EN 16931, intra-Community supply; '/' in the number (SEPA-safe)",
         reference="FT 2026/0418", terms="Pagamento a 30 giorni data fattura"),
    bill("rossi-02.xml", "rossi", "cii", "2026/0447", "2026-11-20", 30,
         [L("Libreria modulare noce 5 ripiani", 6, "412.00", K0),
          L("Trasporto e consegna", 1, "240.00", K0)],
         "CII with transport billed as a line", reference="FT 2026/0447",
         terms="Pagamento a 30 giorni data fattura"),
    bill("rossi-03.xml", "rossi", "cii", "2026/0469", "2026-12-03", 30,
         [L("Divano tre posti tessuto grigio", 2, "1180.00", K0),
          L("Poltrona lounge", 4, "465.00", K0),
          L("Tavolino basso marmo", 2, "338.00", K0)],
         "CII with an advance already paid (TotalPrepaidAmount 1,000.00)",
         prepaid=D("1000.00"), reference="FT 2026/0469",
         note="Acconto di 1.000,00 EUR del 20/11/2026 detratto.",
         terms="Saldo a 30 giorni data fattura"),
    bill("rossi-04.xml", "rossi", "cii", "2026/0502", "2026-12-15", 30,
         [L("Scrivania direzionale noce", 1, "1645.37", K0),
          L("Cassettiera coordinata", 1, "389.00", K0)],
         "CII with a rounding amount (BT-114 +0.63) to a whole euro",
         rounding=D("0.63"), reference=rf_reference("FT20260502"),
         terms="Pagamento a 30 giorni data fattura"),
    bill("rossi-05.xml", "rossi", "cii", "2026/0521", "2026-12-22", 30,
         [L("Appendiabiti a stelo", 8, "96.00", K0)],
         "small CII invoice due in January 2027", reference="FT 2026/0521",
         terms="Pagamento a 30 giorni data fattura"),

    # ---- Imprimerie Durand SARL: UBL, new supplier; and a duplicate sent again as JSON --------
    bill("durand-01.xml", "durand", "ubl", "IMP-26-1187", "2026-11-12", 30,
         [L("Flyers A5 recto-verso 135 g", 5000, "0.062", S20),
          L("Cartes de visite (boîte de 250)", 12, "24.00", S20)],
         "new supplier (not a Qonto beneficiary yet): billbridge creates it",
         reference=rf_reference("IMP261187"), po="PO-2026-0428",
         terms="Paiement à 30 jours net"),
    bill("durand-02.xml", "durand", "ubl", "IMP-26-1215", "2026-11-26", 30,
         [L("Catalogue 32 pages A4 quadri", 2000, "2.35", S20),
          L("Calage et BAT", 1, "180.00", S20)],
         "the original of the duplicate below", reference=rf_reference("IMP261215"),
         po="PO-2026-0466", terms="Paiement à 30 jours net"),
    bill("durand-03-duplicate.json", "durand", "json", "IMP-26-1215", "2026-11-26", 30,
         [L("Catalogue 32 pages A4 quadri", 2000, "2.35", S20),
          L("Calage et BAT", 1, "180.00", S20)],
         "the same invoice (seller, number, amount) sent again by the ERP as JSON",
         expected="held: duplicate", reference=rf_reference("IMP261215"),
         external_id="ERP-AP-10317", po="PO-2026-0466"),
    bill("durand-04.xml", "durand", "ubl", "IMP-26-1263", "2026-12-10", 30,
         [L("Affiches A2 papier satiné", 300, "1.85", S20),
          L("Kakémono enrouleur 85 x 200", 3, "89.00", S20)],
         "UBL, new supplier, second and later bills reuse the recorded IBAN",
         reference=rf_reference("IMP261263"), po="PO-2026-0507",
         terms="Paiement à 30 jours net"),
    bill("durand-05.xml", "durand", "ubl", "IMP-26-1290", "2026-12-17", 30,
         [L("Impression livre 96 pages (exemplaires)", 500, "4.20", S55),
          L("Mise en page et corrections", 6, "55.00", S20, unit="HUR")],
         "printed books at 5.5 % VAT next to services at 20 %",
         reference=rf_reference("IMP261290"), po="PO-2026-0527",
         terms="Paiement à 30 jours net"),

    # ---- CleanPro Services SRL: CII, new supplier, Belgian VAT ---------------------------------
    bill("cleanpro-01.xml", "cleanpro", "cii", "CP-2026-0611", "2026-11-02", 30,
         [L("Nettoyage bureaux Bruxelles, octobre (forfait)", 1, "1480.00", S21),
          L("Nettoyage vitres", 1, "260.00", S21)],
         "CII from a Belgian supplier (21 % VAT, Brussels showroom) with a Belgian "
         "structured communication in BT-83",
         reference=be_structured("2026061100"), terms="Paiement à 30 jours"),
    bill("cleanpro-02.xml", "cleanpro", "cii", "CP-2026-0654", "2026-11-30", 30,
         [L("Nettoyage bureaux Bruxelles, novembre (forfait)", 1, "1480.00", S21),
          L("Produits sanitaires", 1, "84.60", S21)],
         "CII, monthly contract", reference=be_structured("2026065400"),
         terms="Paiement à 30 jours"),
    bill("cleanpro-03.xml", "cleanpro", "cii", "CP-2026-0689", "2026-12-14", 30,
         [L("Nettoyage après événement (heures)", 14, "38.50", S21, unit="HUR"),
          L("Location autolaveuse", 1, "95.00", S21)],
         "CII with an RF creditor reference", reference=rf_reference("CP20260689"),
         terms="Paiement à 30 jours"),
    bill("cleanpro-04.xml", "cleanpro", "cii", "CP-2026-0702", "2026-12-31", 30,
         [L("Nettoyage bureaux Bruxelles, décembre (forfait)", 1, "1480.00", S21),
          L("Nettoyage moquettes", 1, "320.00", S21)],
         "issued 31 December 2026, due 30 January 2027", reference=be_structured("2026070200"),
         terms="Paiement à 30 jours"),

    # ---- Lucía Fernández García: IT freelancer, canonical JSON, new supplier ------------------
    bill("lucia-01.json", "lucia", "json", "LFG-2026-021", "2026-11-08", 30,
         [L("Backend development, October (days)", 12, "420.00", AE0)],
         "JSON bill from a Spanish freelancer (name with accents), new supplier",
         external_id="ERP-AP-10249"),
    bill("lucia-02.json", "lucia", "json", "LFG-2026-024", "2026-11-29", 30,
         [L("Backend development, November (days)", 15, "420.00", AE0)],
         "JSON bill with an RF creditor reference", external_id="ERP-AP-10339",
         reference=rf_reference("LFG2026024")),
    bill("lucia-03.json", "lucia", "json", "LFG-2026-025", "2026-12-02", 30,
         [L("Security audit of the payment module", 1, "1850.00", AE0)],
         "JSON bill with a purchase order and buyer reference", external_id="ERP-AP-10361",
         po="PO-2026-0509", buyer_ref="IT-2026"),
    bill("lucia-04.json", "lucia", "json", "LFG-2026-027", "2026-12-20", 30,
         [L("Backend development, December (days)", 9, "420.00", AE0)],
         "JSON bill due in January 2027", external_id="ERP-AP-10466"),
    bill("lucia-05.json", "lucia", "json", "LFG-2026-028", "2026-12-22", 21,
         [L("On-call support, December (flat fee)", 1, "600.00", AE0)],
         "JSON bill with 21-day terms", external_id="ERP-AP-10478"),

    # ---- Volta Énergie SAS: utility collected by SEPA direct debit -----------------------------
    bill("volta-01.xml", "volta", "ubl", "VE-2026-11-004512", "2026-11-05", 30,
         [L("Abonnement électricité 36 kVA, octobre", 1, "68.40", S20),
          L("Consommation électricité octobre (kWh)", 4210, "0.1874", S20, unit="KWH"),
          L("Accise sur l'électricité (kWh)", 4210, "0.0225", S20, unit="KWH")],
         "utility invoice collected by direct debit (means 49, mandate, our account as BT-91)",
         expected="held: direct_debit", means="49", mandate="VOLTA-MDT-0048213",
         terms="Prélèvement SEPA à l'échéance"),
    bill("volta-02.xml", "volta", "ubl", "VE-2026-12-004987", "2026-12-04", 30,
         [L("Abonnement électricité 36 kVA, novembre", 1, "68.40", S20),
          L("Consommation électricité novembre (kWh)", 5380, "0.1874", S20, unit="KWH"),
          L("Accise sur l'électricité (kWh)", 5380, "0.0225", S20, unit="KWH")],
         "direct debit again: paying by transfer as well would pay twice",
         expected="held: direct_debit", means="49", mandate="VOLTA-MDT-0048213",
         terms="Prélèvement SEPA à l'échéance"),
    bill("volta-03.xml", "volta", "cii", "VE-2026-12-005102", "2026-12-11", 30,
         [L("Abonnement gaz naturel, novembre", 1, "42.10", S20),
          L("Consommation gaz novembre (kWh)", 7840, "0.1092", S20, unit="KWH")],
         "the same utility in CII: direct debit with creditor id and mandate",
         expected="held: direct_debit", means="49", mandate="VOLTA-MDT-0048213",
         terms="Prélèvement SEPA à l'échéance"),
]


# --------------------------------------------------------------------------------------------
# Totals
# --------------------------------------------------------------------------------------------


def compute(b):
    lines = []
    for i, ln in enumerate(b["lines"], 1):
        lines.append(dict(ln, id=str(i), net=q2(ln["qty"] * ln["price"])))
    line_total = sum((ln["net"] for ln in lines), D("0"))
    allow = sum((a[3] for a in b["allowances"] if not a[0]), D("0"))
    charge = sum((a[3] for a in b["allowances"] if a[0]), D("0"))
    basis_total = line_total - allow + charge
    groups = {}
    for ln in lines:
        groups.setdefault(ln["vat"], D("0"))
        groups[ln["vat"]] += ln["net"]
    for is_charge, _, _, value, vat in b["allowances"]:
        groups.setdefault(vat, D("0"))
        groups[vat] += value if is_charge else -value
    breakdown = [(vat, q2(basis), q2(basis * vat[1] / 100)) for vat, basis in groups.items()]
    tax_total = sum((t for _, _, t in breakdown), D("0"))
    grand = basis_total + tax_total
    payable = grand - b["prepaid"] + b["rounding"]
    b.update(lines_c=lines, line_total=line_total, allow_total=allow, charge_total=charge,
             basis_total=basis_total, breakdown=breakdown, tax_total=tax_total, grand=grand,
             payable=payable)
    return b


# --------------------------------------------------------------------------------------------
# UBL 2.1
# --------------------------------------------------------------------------------------------


def e(s):
    return escape(str(s), {'"': "&quot;"})


def ubl_party(p, indent="    "):
    out = [f"{indent}<cac:Party>"]
    if p.get("endpoint"):
        out.append(f'{indent}  <cbc:EndpointID schemeID="{p["endpoint"][1]}">{e(p["endpoint"][0])}</cbc:EndpointID>')
    for value, scheme in p.get("ids", []):
        out.append(f'{indent}  <cac:PartyIdentification><cbc:ID schemeID="{scheme}">{value}</cbc:ID></cac:PartyIdentification>')
    if p.get("creditor_id"):
        out.append(f'{indent}  <cac:PartyIdentification><cbc:ID schemeID="SEPA">{p["creditor_id"]}</cbc:ID></cac:PartyIdentification>')
    if p.get("trading"):
        out.append(f"{indent}  <cac:PartyName><cbc:Name>{e(p['trading'])}</cbc:Name></cac:PartyName>")
    out += [
        f"{indent}  <cac:PostalAddress>",
        f"{indent}    <cbc:StreetName>{e(p['street'])}</cbc:StreetName>",
        f"{indent}    <cbc:CityName>{e(p['city'])}</cbc:CityName>",
        f"{indent}    <cbc:PostalZone>{e(p['zip'])}</cbc:PostalZone>",
        f"{indent}    <cac:Country><cbc:IdentificationCode>{p['country']}</cbc:IdentificationCode></cac:Country>",
        f"{indent}  </cac:PostalAddress>",
        f"{indent}  <cac:PartyTaxScheme>",
        f"{indent}    <cbc:CompanyID>{p['vat']}</cbc:CompanyID>",
        f"{indent}    <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>",
        f"{indent}  </cac:PartyTaxScheme>",
        f"{indent}  <cac:PartyLegalEntity>",
        f"{indent}    <cbc:RegistrationName>{e(p['name'])}</cbc:RegistrationName>",
    ]
    legal = p.get("legal") or (p.get("siren"), "0002")
    if legal[0]:
        scheme = f' schemeID="{legal[1]}"' if legal[1] else ""
        out.append(f"{indent}    <cbc:CompanyID{scheme}>{e(legal[0])}</cbc:CompanyID>")
    out.append(f"{indent}  </cac:PartyLegalEntity>")
    if p.get("contact"):
        n, t, m = p["contact"]
        out += [f"{indent}  <cac:Contact>",
                f"{indent}    <cbc:Name>{e(n)}</cbc:Name>",
                f"{indent}    <cbc:Telephone>{e(t)}</cbc:Telephone>",
                f"{indent}    <cbc:ElectronicMail>{e(m)}</cbc:ElectronicMail>",
                f"{indent}  </cac:Contact>"]
    out.append(f"{indent}</cac:Party>")
    return out


def ubl_category(tag, vat, indent):
    code, rate, exc, exc_text = vat
    out = [f"{indent}<cac:{tag}>", f"{indent}  <cbc:ID>{code}</cbc:ID>",
           f"{indent}  <cbc:Percent>{rate}</cbc:Percent>"]
    if exc and tag == "TaxCategory":
        out += [f"{indent}  <cbc:TaxExemptionReasonCode>{exc}</cbc:TaxExemptionReasonCode>",
                f"{indent}  <cbc:TaxExemptionReason>{e(exc_text)}</cbc:TaxExemptionReason>"]
    out += [f"{indent}  <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>", f"{indent}</cac:{tag}>"]
    return out


def payee_account(b, s):
    value = b["iban"] or s["iban"]
    if b["iban_print"]:
        value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    bic = b.get("bic", s.get("bic")) if b["iban"] else s.get("bic")
    return value, bic


def ubl(b):
    s = SUPPLIERS[b["supplier"]]
    credit = b["format"] == "ubl-cn"
    root = "CreditNote" if credit else "Invoice"
    cur = 'currencyID="EUR"'
    x = ['<?xml version="1.0" encoding="UTF-8"?>',
         f"<!-- billbridge demo invoice, written by demo/generate.py (fictitious data). -->",
         f'<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2"',
         '    xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"',
         '    xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">',
         f"  <cbc:CustomizationID>{PEPPOL}</cbc:CustomizationID>",
         f"  <cbc:ProfileID>{PEPPOL_PROCESS}</cbc:ProfileID>",
         f"  <cbc:ID>{e(b['number'])}</cbc:ID>",
         f"  <cbc:IssueDate>{b['issued'].isoformat()}</cbc:IssueDate>"]
    if not credit:
        x.append(f"  <cbc:DueDate>{b['due'].isoformat()}</cbc:DueDate>")
    x.append(f"  <cbc:{root}TypeCode>{'381' if credit else '380'}</cbc:{root}TypeCode>")
    if b["note"]:
        x.append(f"  <cbc:Note>{e(b['note'])}</cbc:Note>")
    x.append("  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>")
    x.append(f"  <cbc:BuyerReference>{e(b['buyer_ref'] or b['po'] or 'ATELIER-NORD')}</cbc:BuyerReference>")
    if b["po"]:
        x.append(f"  <cac:OrderReference><cbc:ID>{e(b['po'])}</cbc:ID></cac:OrderReference>")
    if b["preceding"]:
        x += ["  <cac:BillingReference>", "    <cac:InvoiceDocumentReference>",
              f"      <cbc:ID>{e(b['preceding'][0])}</cbc:ID>",
              f"      <cbc:IssueDate>{b['preceding'][1]}</cbc:IssueDate>",
              "    </cac:InvoiceDocumentReference>", "  </cac:BillingReference>"]
    x.append("  <cac:AccountingSupplierParty>")
    x += ubl_party(s)
    x.append("  </cac:AccountingSupplierParty>")
    x.append("  <cac:AccountingCustomerParty>")
    x += ubl_party(BUYER)
    x.append("  </cac:AccountingCustomerParty>")
    x.append("  <cac:PaymentMeans>")
    if b["means"] == "49":
        x += ['    <cbc:PaymentMeansCode name="Prélèvement SEPA">49</cbc:PaymentMeansCode>',
              f"    <cbc:PaymentID>{e(b['reference'])}</cbc:PaymentID>",
              "    <cac:PaymentMandate>",
              f"      <cbc:ID>{e(b['mandate'])}</cbc:ID>",
              f"      <cac:PayerFinancialAccount><cbc:ID>{BUYER['iban']}</cbc:ID></cac:PayerFinancialAccount>",
              "    </cac:PaymentMandate>"]
    else:
        account, bic = payee_account(b, s)
        x.append('    <cbc:PaymentMeansCode name="SEPA credit transfer">58</cbc:PaymentMeansCode>')
        if credit:
            x.append(f"    <cbc:PaymentDueDate>{b['due'].isoformat()}</cbc:PaymentDueDate>")
        x += [f"    <cbc:PaymentID>{e(b['reference'])}</cbc:PaymentID>",
              "    <cac:PayeeFinancialAccount>",
              f"      <cbc:ID>{account}</cbc:ID>",
              f"      <cbc:Name>{e(s['name'])}</cbc:Name>"]
        if bic:
            x.append(f"      <cac:FinancialInstitutionBranch><cbc:ID>{bic}</cbc:ID></cac:FinancialInstitutionBranch>")
        x.append("    </cac:PayeeFinancialAccount>")
    x.append("  </cac:PaymentMeans>")
    x.append(f"  <cac:PaymentTerms><cbc:Note>{e(b['terms'])}</cbc:Note></cac:PaymentTerms>")
    for is_charge, code, reason, value, vat in b["allowances"]:
        x += ["  <cac:AllowanceCharge>",
              f"    <cbc:ChargeIndicator>{'true' if is_charge else 'false'}</cbc:ChargeIndicator>",
              f"    <cbc:AllowanceChargeReasonCode>{code}</cbc:AllowanceChargeReasonCode>",
              f"    <cbc:AllowanceChargeReason>{e(reason)}</cbc:AllowanceChargeReason>",
              f"    <cbc:Amount {cur}>{amt(value)}</cbc:Amount>"]
        x += ubl_category("TaxCategory", vat, "    ")
        x.append("  </cac:AllowanceCharge>")
    x += ["  <cac:TaxTotal>", f"    <cbc:TaxAmount {cur}>{amt(b['tax_total'])}</cbc:TaxAmount>"]
    for vat, basis, tax in b["breakdown"]:
        x += ["    <cac:TaxSubtotal>",
              f"      <cbc:TaxableAmount {cur}>{amt(basis)}</cbc:TaxableAmount>",
              f"      <cbc:TaxAmount {cur}>{amt(tax)}</cbc:TaxAmount>"]
        x += ubl_category("TaxCategory", vat, "      ")
        x.append("    </cac:TaxSubtotal>")
    x.append("  </cac:TaxTotal>")
    x += ["  <cac:LegalMonetaryTotal>",
          f"    <cbc:LineExtensionAmount {cur}>{amt(b['line_total'])}</cbc:LineExtensionAmount>",
          f"    <cbc:TaxExclusiveAmount {cur}>{amt(b['basis_total'])}</cbc:TaxExclusiveAmount>",
          f"    <cbc:TaxInclusiveAmount {cur}>{amt(b['grand'])}</cbc:TaxInclusiveAmount>"]
    if b["allow_total"]:
        x.append(f"    <cbc:AllowanceTotalAmount {cur}>{amt(b['allow_total'])}</cbc:AllowanceTotalAmount>")
    if b["charge_total"]:
        x.append(f"    <cbc:ChargeTotalAmount {cur}>{amt(b['charge_total'])}</cbc:ChargeTotalAmount>")
    if b["prepaid"]:
        x.append(f"    <cbc:PrepaidAmount {cur}>{amt(b['prepaid'])}</cbc:PrepaidAmount>")
    if b["rounding"]:
        x.append(f"    <cbc:PayableRoundingAmount {cur}>{amt(b['rounding'])}</cbc:PayableRoundingAmount>")
    x += [f"    <cbc:PayableAmount {cur}>{amt(b['payable'])}</cbc:PayableAmount>",
          "  </cac:LegalMonetaryTotal>"]
    line_tag = "CreditNoteLine" if credit else "InvoiceLine"
    qty_tag = "CreditedQuantity" if credit else "InvoicedQuantity"
    for ln in b["lines_c"]:
        x += [f"  <cac:{line_tag}>",
              f"    <cbc:ID>{ln['id']}</cbc:ID>",
              f'    <cbc:{qty_tag} unitCode="{ln["unit"]}">{ln["qty"]}</cbc:{qty_tag}>',
              f"    <cbc:LineExtensionAmount {cur}>{amt(ln['net'])}</cbc:LineExtensionAmount>",
              "    <cac:Item>",
              f"      <cbc:Name>{e(ln['name'])}</cbc:Name>"]
        x += ubl_category("ClassifiedTaxCategory", ln["vat"], "      ")
        x += ["    </cac:Item>",
              f"    <cac:Price><cbc:PriceAmount {cur}>{ln['price']}</cbc:PriceAmount></cac:Price>",
              f"  </cac:{line_tag}>"]
    x.append(f"</{root}>")
    return ("\n".join(x) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# CII D16B (Factur-X EN 16931, XRechnung 3.0)
# --------------------------------------------------------------------------------------------


def d102(d):
    return d.strftime("%Y%m%d")


def cii_party(tag, p, indent="      "):
    x = [f"{indent}<ram:{tag}>"]
    for value, scheme in p.get("ids", []):
        x.append(f'{indent}  <ram:GlobalID schemeID="{scheme}">{value}</ram:GlobalID>')
    x.append(f"{indent}  <ram:Name>{e(p['name'])}</ram:Name>")
    legal = p.get("legal") or (p.get("siren"), "0002")
    if legal[0] or p.get("trading"):
        x.append(f"{indent}  <ram:SpecifiedLegalOrganization>")
        if legal[0]:
            scheme = f' schemeID="{legal[1]}"' if legal[1] else ""
            x.append(f"{indent}    <ram:ID{scheme}>{e(legal[0])}</ram:ID>")
        if p.get("trading"):
            x.append(f"{indent}    <ram:TradingBusinessName>{e(p['trading'])}</ram:TradingBusinessName>")
        x.append(f"{indent}  </ram:SpecifiedLegalOrganization>")
    if p.get("contact"):
        n, t, m = p["contact"]
        x += [f"{indent}  <ram:DefinedTradeContact>",
              f"{indent}    <ram:PersonName>{e(n)}</ram:PersonName>",
              f"{indent}    <ram:TelephoneUniversalCommunication><ram:CompleteNumber>{e(t)}</ram:CompleteNumber></ram:TelephoneUniversalCommunication>",
              f"{indent}    <ram:EmailURIUniversalCommunication><ram:URIID>{e(m)}</ram:URIID></ram:EmailURIUniversalCommunication>",
              f"{indent}  </ram:DefinedTradeContact>"]
    x += [f"{indent}  <ram:PostalTradeAddress>",
          f"{indent}    <ram:PostcodeCode>{e(p['zip'])}</ram:PostcodeCode>",
          f"{indent}    <ram:LineOne>{e(p['street'])}</ram:LineOne>",
          f"{indent}    <ram:CityName>{e(p['city'])}</ram:CityName>",
          f"{indent}    <ram:CountryID>{p['country']}</ram:CountryID>",
          f"{indent}  </ram:PostalTradeAddress>"]
    if p.get("endpoint"):
        x.append(f'{indent}  <ram:URIUniversalCommunication><ram:URIID schemeID="{p["endpoint"][1]}">{e(p["endpoint"][0])}</ram:URIID></ram:URIUniversalCommunication>')
    x.append(f'{indent}  <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{p["vat"]}</ram:ID></ram:SpecifiedTaxRegistration>')
    if p.get("tax_number"):
        x.append(f'{indent}  <ram:SpecifiedTaxRegistration><ram:ID schemeID="FC">{p["tax_number"]}</ram:ID></ram:SpecifiedTaxRegistration>')
    x.append(f"{indent}</ram:{tag}>")
    return x


def cii_tax(vat, indent, basis=None, tax=None):
    code, rate, exc, exc_text = vat
    x = [f"{indent}<ram:ApplicableTradeTax>"]
    if tax is not None:
        x.append(f"{indent}  <ram:CalculatedAmount>{amt(tax)}</ram:CalculatedAmount>")
    x.append(f"{indent}  <ram:TypeCode>VAT</ram:TypeCode>")
    if exc and basis is not None:
        x.append(f"{indent}  <ram:ExemptionReason>{e(exc_text)}</ram:ExemptionReason>")
    if basis is not None:
        x.append(f"{indent}  <ram:BasisAmount>{amt(basis)}</ram:BasisAmount>")
    x.append(f"{indent}  <ram:CategoryCode>{code}</ram:CategoryCode>")
    if exc and basis is not None:
        x.append(f"{indent}  <ram:ExemptionReasonCode>{exc}</ram:ExemptionReasonCode>")
    x.append(f"{indent}  <ram:RateApplicablePercent>{rate}</ram:RateApplicablePercent>")
    x.append(f"{indent}</ram:ApplicableTradeTax>")
    return x


def cii(b, profile=None):
    s = SUPPLIERS[b["supplier"]]
    xr = b["format"] == "cii-xr"
    profile = profile or (XRECHNUNG if xr else EN16931)
    x = ['<?xml version="1.0" encoding="UTF-8"?>',
         "<!-- billbridge demo invoice, written by demo/generate.py (fictitious data). -->",
         '<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"',
         '    xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"',
         '    xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100"',
         '    xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">',
         "  <rsm:ExchangedDocumentContext>"]
    if xr:
        x.append(f"    <ram:BusinessProcessSpecifiedDocumentContextParameter><ram:ID>{PEPPOL_PROCESS}</ram:ID></ram:BusinessProcessSpecifiedDocumentContextParameter>")
    x += [f"    <ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>{profile}</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>",
          "  </rsm:ExchangedDocumentContext>",
          "  <rsm:ExchangedDocument>",
          f"    <ram:ID>{e(b['number'])}</ram:ID>",
          "    <ram:TypeCode>380</ram:TypeCode>",
          f'    <ram:IssueDateTime><udt:DateTimeString format="102">{d102(b["issued"])}</udt:DateTimeString></ram:IssueDateTime>']
    if b["note"]:
        x.append(f"    <ram:IncludedNote><ram:Content>{e(b['note'])}</ram:Content></ram:IncludedNote>")
    x += ["  </rsm:ExchangedDocument>", "  <rsm:SupplyChainTradeTransaction>"]
    for ln in b["lines_c"]:
        x += ["    <ram:IncludedSupplyChainTradeLineItem>",
              f"      <ram:AssociatedDocumentLineDocument><ram:LineID>{ln['id']}</ram:LineID></ram:AssociatedDocumentLineDocument>",
              f"      <ram:SpecifiedTradeProduct><ram:Name>{e(ln['name'])}</ram:Name></ram:SpecifiedTradeProduct>",
              f"      <ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>{ln['price']}</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>",
              f'      <ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="{ln["unit"]}">{ln["qty"]}</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>',
              "      <ram:SpecifiedLineTradeSettlement>"]
        x += cii_tax(ln["vat"], "        ")
        x += [f"        <ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>{amt(ln['net'])}</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation>",
              "      </ram:SpecifiedLineTradeSettlement>",
              "    </ram:IncludedSupplyChainTradeLineItem>"]
    x.append("    <ram:ApplicableHeaderTradeAgreement>")
    x.append(f"      <ram:BuyerReference>{e(b['buyer_ref'] or b['po'] or 'ATELIER-NORD')}</ram:BuyerReference>")
    x += cii_party("SellerTradeParty", s)
    buyer = dict(BUYER, endpoint=(BUYER["email"], "EM") if xr else BUYER["endpoint"])
    x += cii_party("BuyerTradeParty", buyer)
    if b["po"]:
        x.append(f"      <ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>{e(b['po'])}</ram:IssuerAssignedID></ram:BuyerOrderReferencedDocument>")
    x += ["    </ram:ApplicableHeaderTradeAgreement>",
          "    <ram:ApplicableHeaderTradeDelivery>",
          f'      <ram:ActualDeliverySupplyChainEvent><ram:OccurrenceDateTime><udt:DateTimeString format="102">{d102(b["issued"])}</udt:DateTimeString></ram:OccurrenceDateTime></ram:ActualDeliverySupplyChainEvent>',
          "    </ram:ApplicableHeaderTradeDelivery>",
          "    <ram:ApplicableHeaderTradeSettlement>"]
    if b["means"] == "49":
        x.append(f"      <ram:CreditorReferenceID>{s['creditor_id']}</ram:CreditorReferenceID>")
    x += [f"      <ram:PaymentReference>{e(b['reference'])}</ram:PaymentReference>",
          "      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>",
          "      <ram:SpecifiedTradeSettlementPaymentMeans>"]
    if b["means"] == "49":
        x += ["        <ram:TypeCode>49</ram:TypeCode>",
              "        <ram:Information>Prélèvement SEPA</ram:Information>",
              f"        <ram:PayerPartyDebtorFinancialAccount><ram:IBANID>{BUYER['iban']}</ram:IBANID></ram:PayerPartyDebtorFinancialAccount>"]
    else:
        account, bic = payee_account(b, s)
        x += ["        <ram:TypeCode>58</ram:TypeCode>",
              "        <ram:Information>SEPA credit transfer</ram:Information>",
              "        <ram:PayeePartyCreditorFinancialAccount>",
              f"          <ram:IBANID>{account}</ram:IBANID>",
              f"          <ram:AccountName>{e(s['name'])}</ram:AccountName>",
              "        </ram:PayeePartyCreditorFinancialAccount>"]
        if bic:
            x.append(f"        <ram:PayeeSpecifiedCreditorFinancialInstitution><ram:BICID>{bic}</ram:BICID></ram:PayeeSpecifiedCreditorFinancialInstitution>")
    x.append("      </ram:SpecifiedTradeSettlementPaymentMeans>")
    for vat, basis, tax in b["breakdown"]:
        x += cii_tax(vat, "      ", basis, tax)
    for is_charge, code, reason, value, vat in b["allowances"]:
        x += ["      <ram:SpecifiedTradeAllowanceCharge>",
              f"        <ram:ChargeIndicator><udt:Indicator>{'true' if is_charge else 'false'}</udt:Indicator></ram:ChargeIndicator>",
              f"        <ram:ActualAmount>{amt(value)}</ram:ActualAmount>",
              f"        <ram:ReasonCode>{code}</ram:ReasonCode>",
              f"        <ram:Reason>{e(reason)}</ram:Reason>",
              f"        <ram:CategoryTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>{vat[0]}</ram:CategoryCode><ram:RateApplicablePercent>{vat[1]}</ram:RateApplicablePercent></ram:CategoryTradeTax>",
              "      </ram:SpecifiedTradeAllowanceCharge>"]
    x += ["      <ram:SpecifiedTradePaymentTerms>",
          f"        <ram:Description>{e(b['terms'])}</ram:Description>",
          f'        <ram:DueDateDateTime><udt:DateTimeString format="102">{d102(b["due"])}</udt:DateTimeString></ram:DueDateDateTime>']
    if b["means"] == "49":
        x.append(f"        <ram:DirectDebitMandateID>{e(b['mandate'])}</ram:DirectDebitMandateID>")
    x += ["      </ram:SpecifiedTradePaymentTerms>",
          "      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>",
          f"        <ram:LineTotalAmount>{amt(b['line_total'])}</ram:LineTotalAmount>"]
    if b["charge_total"]:
        x.append(f"        <ram:ChargeTotalAmount>{amt(b['charge_total'])}</ram:ChargeTotalAmount>")
    if b["allow_total"]:
        x.append(f"        <ram:AllowanceTotalAmount>{amt(b['allow_total'])}</ram:AllowanceTotalAmount>")
    x += [f"        <ram:TaxBasisTotalAmount>{amt(b['basis_total'])}</ram:TaxBasisTotalAmount>",
          f'        <ram:TaxTotalAmount currencyID="EUR">{amt(b["tax_total"])}</ram:TaxTotalAmount>']
    if b["rounding"]:
        x.append(f"        <ram:RoundingAmount>{amt(b['rounding'])}</ram:RoundingAmount>")
    x.append(f"        <ram:GrandTotalAmount>{amt(b['grand'])}</ram:GrandTotalAmount>")
    if b["prepaid"]:
        x.append(f"        <ram:TotalPrepaidAmount>{amt(b['prepaid'])}</ram:TotalPrepaidAmount>")
    x += [f"        <ram:DuePayableAmount>{amt(b['payable'])}</ram:DuePayableAmount>",
          "      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>",
          "    </ram:ApplicableHeaderTradeSettlement>",
          "  </rsm:SupplyChainTradeTransaction>",
          "</rsm:CrossIndustryInvoice>"]
    return ("\n".join(x) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# Canonical JSON
# --------------------------------------------------------------------------------------------


def canonical_json(b):
    s = SUPPLIERS[b["supplier"]]
    num = (lambda v: float(q2(v))) if b.get("json_numbers") else amt
    doc = {"external_id": b["external_id"], "number": b["number"], "type_code": "380",
           "issue_date": b["issued"].isoformat(), "due_date": b["due"].isoformat(),
           "currency": "EUR", "payable_amount": num(b["payable"]),
           "tax_inclusive_amount": num(b["grand"])}
    if b["prepaid"]:
        doc["prepaid_amount"] = num(b["prepaid"])
    seller = {"name": s["name"]}
    if s.get("trading"):
        seller["trading_name"] = s["trading"]
    seller["vat_id"] = s["vat"]
    if s.get("legal") and s["legal"][1] == "0002":
        seller["legal_id"], seller["legal_id_scheme"] = s["legal"]
    seller["city"], seller["country"] = s["city"], s["country"]
    doc["seller"] = seller
    if b["buyer_ref"]:
        doc["buyer_reference"] = b["buyer_ref"]
    if b["po"]:
        doc["purchase_order"] = b["po"]
    payment = {"means_code": b["means"], "iban": s["iban"]}
    if s.get("bic"):
        payment["bic"] = s["bic"]
    payment["account_name"] = s["name"]
    doc["payment"] = payment
    doc["payment_reference"] = b["reference"]
    doc["payment_terms"] = b["terms"]
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# Factur-X PDF (PDF/A-3 style: CII embedded as factur-x.xml via /EmbeddedFiles and /AF)
# --------------------------------------------------------------------------------------------

# Helvetica advance widths (AFM, per 1000 em) for right-aligned numbers.
_HELV_W = dict(zip(
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
    [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278]
    + [556] * 10
    + [278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500,
       667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278,
       278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222,
       833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334,
       584]))
_HELV_W["\x80"] = 556  # the euro sign in WinAnsiEncoding


def pdf_str(s):
    raw = s.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def text_width(s, size):
    return sum(_HELV_W.get(c, 556) for c in s.replace("€", "\x80")) * size / 1000


LABELS = {
    "de": dict(title="RECHNUNG", number="Rechnungsnummer", issued="Rechnungsdatum",
               due="Fälligkeitsdatum", po="Bestellnummer", buyer="Rechnungsempfänger",
               item="Bezeichnung", qty="Menge", price="Einzelpreis", vat="USt.",
               net="Betrag", total_net="Summe netto", total_vat="Umsatzsteuer",
               grand="Gesamtbetrag", prepaid="Anzahlung", payable="Zahlbetrag",
               pay="Zahlung per SEPA-Überweisung", ref="Verwendungszweck",
               vatid="USt-IdNr.", note_k="Steuerfreie innergemeinschaftliche Lieferung "
               "(§ 4 Nr. 1b UStG); Steuerschuldnerschaft des Leistungsempfängers."),
    "fr": dict(title="FACTURE", number="Numéro de facture", issued="Date de facture",
               due="Date d'échéance", po="Bon de commande", buyer="Client",
               item="Désignation", qty="Qté", price="Prix unitaire HT", vat="TVA",
               net="Montant HT", total_net="Total HT", total_vat="TVA",
               grand="Total TTC", prepaid="Acompte versé", payable="Net à payer",
               pay="Règlement par virement SEPA", ref="Référence de paiement",
               vatid="N° TVA", note_k=""),
}


def money(v, lang):
    s = f"{q2(v):,.2f}"
    if lang == "de":
        s = s.replace(",", "X").replace(".", ",").replace("X", ".")
    else:
        s = s.replace(",", " ").replace(".", ",")
    return s + " €"


def fmt_date(d, lang):
    return d.strftime("%d.%m.%Y") if lang == "de" else d.strftime("%d/%m/%Y")


def page_content(b, lang):
    s = SUPPLIERS[b["supplier"]]
    t = LABELS[lang]
    ops = []

    def text(x, y, s_, size=9, bold=False, right=False):
        if right:
            x -= text_width(s_, size)
        font = b"/F2" if bold else b"/F1"
        ops.append(b"BT " + font + b" %d Tf %.2f %.2f Td " % (size, x, y) + pdf_str(s_) + b" Tj ET")

    def rule(y, x0=50, x1=545, w=0.5):
        ops.append(b"%.2f w %.2f %.2f m %.2f %.2f l S" % (w, x0, y, x1, y))

    # Seller block
    text(50, 790, s["name"], 16, bold=True)
    text(50, 774, f"{s['street']} - {s['zip']} {s['city']} - {s['country']}", 9)
    legal = s.get("legal")
    ids = f"{t['vatid']} {s['vat']}"
    if legal and legal[1] == "0002":
        ids += f" - SIREN {legal[0]}"
    elif legal:
        ids += f" - {legal[0]}"
    if s.get("tax_number"):
        ids += f" - St.-Nr. {s['tax_number']}"
    text(50, 762, ids, 8)
    text(50, 750, f"{s['contact'][1]} - {s['contact'][2]}", 8)
    # Title
    text(545, 790, t["title"], 18, bold=True, right=True)
    # Buyer block
    text(330, 716, t["buyer"], 8, bold=True)
    text(330, 703, BUYER["name"], 10, bold=True)
    text(330, 690, BUYER["street"], 9)
    text(330, 678, f"{BUYER['zip']} {BUYER['city']} - {BUYER['country']}", 9)
    text(330, 666, f"{t['vatid']} {BUYER['vat']}", 8)
    # Document data
    rows = [(t["number"], b["number"]), (t["issued"], fmt_date(b["issued"], lang)),
            (t["due"], fmt_date(b["due"], lang))]
    if b["po"]:
        rows.append((t["po"], b["po"]))
    y = 716
    for label, value in rows:
        text(50, y, label, 8, bold=True)
        text(150, y, value, 9)
        y -= 13
    # Lines table
    y = 630
    rule(y + 12, w=0.8)
    text(50, y, t["item"], 8, bold=True)
    text(360, y, t["qty"], 8, bold=True, right=True)
    text(440, y, t["price"], 8, bold=True, right=True)
    text(480, y, t["vat"], 8, bold=True, right=True)
    text(545, y, t["net"], 8, bold=True, right=True)
    rule(y - 5)
    y -= 20
    for ln in b["lines_c"]:
        name = ln["name"]
        if text_width(name, 9) > 265:
            while text_width(name + "...", 9) > 265:
                name = name[:-1]
            name = name.rstrip() + "..."
        text(50, y, name, 9)
        qty = f"{ln['qty']:,}".replace(",", "." if lang == "de" else " ")
        text(360, y, qty, 9, right=True)
        text(440, y, money(ln["price"], lang), 9, right=True)
        text(480, y, f"{ln['vat'][1]:g} %".replace(".", ","), 9, right=True)
        text(545, y, money(ln["net"], lang), 9, right=True)
        y -= 15
    rule(y + 8)
    # Totals
    y -= 10
    totals = [(t["total_net"], b["basis_total"], False)]
    for vat, basis, tax in b["breakdown"]:
        rate = f"{vat[1]:g}".replace(".", ",")
        totals.append((f"{t['total_vat']} {rate} % ({money(basis, lang)})", tax, False))
    totals.append((t["grand"], b["grand"], True))
    if b["prepaid"]:
        totals.append((t["prepaid"], -b["prepaid"], False))
    totals.append((t["payable"], b["payable"], True))
    for label, value, bold in totals:
        text(330, y, label, 9, bold=bold)
        text(545, y, money(value, lang), 9, bold=bold, right=True)
        y -= 14
    # Payment
    y -= 16
    account, bic = payee_account(b, s)
    pretty = " ".join(account[i:i + 4] for i in range(0, len(account), 4))
    text(50, y, t["pay"], 10, bold=True)
    y -= 14
    text(50, y, f"IBAN {pretty}" + (f" - BIC {bic}" if bic else ""), 9)
    y -= 12
    text(50, y, f"{t['ref']}: {b['reference']}", 9)
    y -= 12
    text(50, y, b["terms"], 9)
    if any(v[0] == "K" for v, _, _ in b["breakdown"]) and t["note_k"]:
        y -= 20
        text(50, y, t["note_k"], 8)
    # Footer
    rule(60, w=0.3)
    text(50, 46, "Factur-X EN 16931 - the structured invoice (CII) is embedded in this PDF as factur-x.xml.", 7)
    text(50, 36, "billbridge demo document, generated by demo/generate.py - fictitious data.", 7)
    return b"\n".join(ops) + b"\n"


def xmp(b, s, title, stamp):
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>3</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{e(s['name'])}</rdf:li></rdf:Seq></dc:creator>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:CreateDate>{stamp}</xmp:CreateDate>
   <xmp:ModifyDate>{stamp}</xmp:ModifyDate>
   <xmp:CreatorTool>billbridge demo/generate.py</xmp:CreatorTool>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdf:Producer>billbridge demo/generate.py</pdf:Producer>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#">
   <fx:DocumentType>INVOICE</fx:DocumentType>
   <fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>
   <fx:Version>1.0</fx:Version>
   <fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
      xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
      xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
   <pdfaExtension:schemas>
    <rdf:Bag>
     <rdf:li rdf:parseType="Resource">
      <pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>
      <pdfaSchema:namespaceURI>urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#</pdfaSchema:namespaceURI>
      <pdfaSchema:prefix>fx</pdfaSchema:prefix>
      <pdfaSchema:property>
       <rdf:Seq>
        <rdf:li rdf:parseType="Resource"><pdfaProperty:name>DocumentFileName</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category><pdfaProperty:description>The name of the embedded XML document</pdfaProperty:description></rdf:li>
        <rdf:li rdf:parseType="Resource"><pdfaProperty:name>DocumentType</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category><pdfaProperty:description>The type of the hybrid document in capital letters, e.g. INVOICE or ORDER</pdfaProperty:description></rdf:li>
        <rdf:li rdf:parseType="Resource"><pdfaProperty:name>Version</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category><pdfaProperty:description>The actual version of the standard applying to the embedded XML document</pdfaProperty:description></rdf:li>
        <rdf:li rdf:parseType="Resource"><pdfaProperty:name>ConformanceLevel</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category><pdfaProperty:description>The conformance level of the embedded XML document</pdfaProperty:description></rdf:li>
       </rdf:Seq>
      </pdfaSchema:property>
     </rdf:li>
    </rdf:Bag>
   </pdfaExtension:schemas>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode("utf-8")


def factur_x_pdf(b):
    s = SUPPLIERS[b["supplier"]]
    lang = "de" if s["country"] == "DE" else "fr"
    xml = cii(b, profile=EN16931)
    day = b["issued"]
    pdf_date = f"D:{day.strftime('%Y%m%d')}090000+01'00'"
    stamp = f"{day.isoformat()}T09:00:00+01:00"
    title = f"{LABELS[lang]['title'].capitalize()} {b['number']} - {s['name']}"
    content = zlib.compress(page_content(b, lang), 9)
    xml_z = zlib.compress(xml, 9)
    meta = xmp(b, s, title, stamp)

    def stream(dict_body, data):
        return b"<< " + dict_body + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    objs = [
        # 1 catalog
        b"<< /Type /Catalog /Pages 2 0 R /Metadata 9 0 R"
        b" /Names << /EmbeddedFiles << /Names [(factur-x.xml) 7 0 R] >> >>"
        b" /AF [7 0 R] /Lang (" + (b"de-DE" if lang == "de" else b"fr-FR") + b")"
        b" /MarkInfo << /Marked false >> /ViewerPreferences << /DisplayDocTitle true >>"
        b" /PageMode /UseAttachments >>",
        # 2 pages
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        # 3 page
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 5 0 R /F2 6 0 R >> /ProcSet [/PDF /Text] >>"
        b" /Contents 4 0 R >>",
        # 4 content
        stream(b"/Filter /FlateDecode", content),
        # 5, 6 fonts
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        # 7 file specification
        b"<< /Type /Filespec /F (factur-x.xml) /UF (factur-x.xml)"
        b" /Desc (Factur-X invoice) /AFRelationship /Data /EF << /F 8 0 R /UF 8 0 R >> >>",
        # 8 embedded file
        stream(b"/Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode"
               b" /Params << /Size %d /CheckSum <%s> /CreationDate (%s) /ModDate (%s) >>"
               % (len(xml), hashlib.md5(xml).hexdigest().encode(), pdf_date.encode(), pdf_date.encode()),
               xml_z),
        # 9 XMP metadata (uncompressed, as PDF/A wants)
        stream(b"/Type /Metadata /Subtype /XML", meta),
        # 10 info
        b"<< /Title " + pdf_str(title) + b" /Author " + pdf_str(s["name"])
        + b" /Subject (Factur-X EN 16931 invoice) /Creator (billbridge demo/generate.py)"
        b" /Producer (billbridge demo/generate.py) /CreationDate (" + pdf_date.encode()
        + b") /ModDate (" + pdf_date.encode() + b") >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objs) + 1)
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    doc_id = hashlib.md5(bytes(out)).hexdigest().encode()
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 10 0 R /ID [<%s> <%s>] >>\n"
            % (len(objs) + 1, doc_id, doc_id))
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


# --------------------------------------------------------------------------------------------
# README table
# --------------------------------------------------------------------------------------------

FORMAT_NAMES = {
    "ubl": "UBL 2.1 Invoice (Peppol BIS 3)",
    "ubl-cn": "UBL 2.1 CreditNote",
    "cii": "CII (Factur-X EN 16931)",
    "cii-xr": "CII (XRechnung 3.0)",
    "pdf": "Factur-X PDF (EN 16931)",
    "json": "canonical JSON",
}


def money_en(v):
    return f"{q2(v):,.2f}"


def readme():
    payable = [b for b in BILLS if b["expected"] == "paid"]
    held = [b for b in BILLS if b["expected"] != "paid"]
    by_reason = {}
    for b in held:
        by_reason.setdefault(b["expected"].split(": ")[1], []).append(b)
    out = [
        "# Demo invoices",
        "",
        "Sample supplier bills for `billbridge demo`, **written by the billbridge team** and generated by",
        "[`../generate.py`](../generate.py) (Python 3 standard library, deterministic). Do not edit the",
        "files by hand: change the generator and run `python3 demo/generate.py`",
        "(`--check` verifies the committed files are what it writes). All companies other than the",
        "sandbox's seeded beneficiaries, and all identifiers (SIREN/SIRET, VAT ids, IBANs other than the",
        "seeded ones, RF references, creditor id), are invented; check digits are computed so they",
        "validate.",
        "",
        f"{len(BILLS)} bills from {len(SUPPLIERS)} suppliers, all EUR, issued November-December 2026 and due",
        "December 2026-January 2027. Every XML, JSON and PDF bill pays through SEPA credit transfer",
        "(means 58) to the payee IBAN unless said otherwise. The buyer is *Atelier Nord SAS* (Lille),",
        f"whose Qonto account is the sandbox's main account `{BUYER['iban']}`.",
        "",
        "## Suppliers",
        "",
        "| supplier | country | IBAN | at Qonto (sandbox) | formats | bills |",
        "|---|---|---|---|---|---|",
    ]
    for key, s in SUPPLIERS.items():
        bills = [b for b in BILLS if b["supplier"] == key]
        fmts = sorted({FORMAT_NAMES[b["format"]] for b in bills})
        out.append(f"| {s['name']} | {s['country']} | `{s['iban']}` | {s['qonto']} | "
                   f"{', '.join(fmts)} | {len(bills)} |")
    out += [
        "",
        f"Van Dijk's last bill pays `{VANDIJK_NEW_IBAN}` (Rabobank) instead of the recorded ING account.",
        "",
        "## Bills",
        "",
        "Amount = BT-115, the amount due. *Expected* is the outcome in the demo: **paid**, or **held**",
        "with billbridge's hold reason code.",
        "",
        "| file | supplier | format | amount (EUR) | what the bill demonstrates | expected |",
        "|---|---|---|---:|---|---|",
    ]
    for b in BILLS:
        exp = "paid" if b["expected"] == "paid" else f"held `{b['expected'].split(': ')[1]}`"
        out.append(f"| `{b['file']}` | {SUPPLIERS[b['supplier']]['name']} | {FORMAT_NAMES[b['format']]} | "
                   f"{money_en(b['payable'])} | {b['demonstrates']} | {exp} |")
    total = sum((b["payable"] for b in payable), D("0"))
    out += [
        "",
        "## Totals",
        "",
        f"- **Paid:** {len(payable)} bills, {money_en(total)} EUR (the sandbox balance is 1,000,000.00 EUR).",
    ]
    for reason, bs in sorted(by_reason.items()):
        out.append(f"- **Held `{reason}`:** {len(bs)} ({', '.join('`' + b['file'] + '`' for b in bs)}), "
                   f"{money_en(sum((b['payable'] for b in bs), D('0')))} EUR.")
    out += [
        "",
        "## Where each hold is decided",
        "",
        "- `credit_note` and `direct_debit` come from the document itself: `billbridge parse` already",
        "  reports them (`payable: false`).",
        "- `iban_changed` and `duplicate` are decided at **intake**, against what billbridge has",
        "  recorded before: the supplier's first IBAN, and the bills already received. `billbridge",
        "  parse` looks at one file at a time, so it reports those two bills as payable. They hold only",
        "  when the bills are taken in file-name order (as `billbridge ingest demo/invoices` does): the",
        "  Van Dijk bill with the new IBAN comes after the four paid to the recorded one, and the JSON",
        "  copy of `IMP-26-1215` after its UBL original.",
        "- `mueller-06-above-30k.pdf` is above Qonto's 30,000 EUR attachment threshold; because it is",
        "  a PDF, billbridge has the invoice to attach and pays it (an XML or JSON bill that large would",
        "  be held `needs_attachment`).",
        "- Alice In Wonderland, Malt and Rossi Forniture are sandbox beneficiaries that are not",
        "  trusted; Imprimerie Durand, CleanPro and Lucía Fernández García are not beneficiaries at",
        "  all yet. Sellers' legal names (BT-27) are written exactly as the sandbox's payee bank holds",
        "  them, so Verification of Payee answers a match (the new suppliers' IBANs are unknown to the",
        "  sandbox's registry, which it also answers as a match by default).",
        "",
        "## Checking",
        "",
        "```sh",
        "python3 demo/generate.py --check",
        "cargo run -- parse demo/invoices/*.xml demo/invoices/*.pdf demo/invoices/*.json",
        "cargo test --test demo_invoices",
        "```",
        "",
        "The PDFs are PDF/A-3-*style* Factur-X files (XMP with `pdfaid` and the Factur-X extension",
        "schema, the CII as `factur-x.xml` in the `/EmbeddedFiles` name tree and in the catalog's `/AF`",
        "with `/AFRelationship /Data`, one visible page). They use the standard Helvetica font without",
        "embedding it and carry no ICC output intent, so a strict PDF/A validator (veraPDF) would not",
        "pass them.",
        "",
    ]
    return "\n".join(out).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Checks and output
# --------------------------------------------------------------------------------------------


def check_data():
    for key, s in SUPPLIERS.items():
        assert iban_is_valid(s["iban"]), (key, s["iban"])
        assert s["iban"] == s["iban"].upper().replace(" ", "")
    assert iban_is_valid(VANDIJK_NEW_IBAN)
    for siren9 in (ACME_SIREN, MALT_SIREN, DURAND_SIREN, VOLTA_SIREN, BUYER_SIREN):
        assert len(siren9) == 9 and luhn_ok(siren9)
    for s in SUPPLIERS.values():
        for value, scheme in s.get("ids", []):
            if scheme == "0009":
                assert len(value) == 14 and luhn_ok(value) and value.startswith(s["legal"][0])
    seen = set()
    for b in BILLS:
        assert b["file"] not in seen, b["file"]
        seen.add(b["file"])
        assert date(2026, 11, 1) <= b["issued"] <= date(2026, 12, 31), b["file"]
        assert date(2026, 12, 1) <= b["due"] <= date(2027, 1, 31), b["file"]
        assert sepa_ok(b["reference"]) and len(b["reference"]) <= 35, b["file"]
        assert sepa_ok(b["number"]), b["file"]
        if b["reference"].startswith("RF"):
            assert rf_is_valid(b["reference"]) and len(b["reference"]) <= 25, b["file"]
        assert b["payable"] > 0, b["file"]
        assert b["grand"] == b["basis_total"] + b["tax_total"]
        assert b["basis_total"] == b["line_total"] - b["allow_total"] + b["charge_total"]
        assert b["payable"] == b["grand"] - b["prepaid"] + b["rounding"]
        assert b["payable"] == q2(b["payable"])
    files = [b["file"] for b in BILLS]
    vd = sorted(f for f in files if f.startswith("vandijk-"))
    assert vd[-1] == "vandijk-05-new-iban.xml"
    assert sorted(["durand-02.xml", "durand-03-duplicate.json"])[0] == "durand-02.xml"
    mueller_pdf = next(b for b in BILLS if b["file"] == "mueller-06-above-30k.pdf")
    assert mueller_pdf["payable"] > 30000
    others = [b for b in BILLS if b is not mueller_pdf]
    assert all(D("100") <= b["payable"] <= D("11000") for b in others), [
        (b["file"], b["payable"]) for b in others if not D("100") <= b["payable"] <= D("11000")]
    dup = [b for b in BILLS if b["number"] == "IMP-26-1215"]
    assert len(dup) == 2 and dup[0]["payable"] == dup[1]["payable"]


def render(b):
    if b["format"] in ("ubl", "ubl-cn"):
        return ubl(b)
    if b["format"] in ("cii", "cii-xr"):
        return cii(b)
    if b["format"] == "json":
        return canonical_json(b)
    if b["format"] == "pdf":
        return factur_x_pdf(b)
    raise ValueError(b["format"])


def main(argv):
    check = "--check" in argv
    for b in BILLS:
        compute(b)
    check_data()
    outputs = {b["file"]: render(b) for b in BILLS}
    outputs["README.md"] = readme()
    if check:
        bad = [name for name, data in outputs.items()
               if not (OUT / name).is_file() or (OUT / name).read_bytes() != data]
        extra = sorted(p.name for p in OUT.iterdir() if p.name not in outputs) if OUT.is_dir() else []
        for name in bad:
            print(f"differs or missing: {name}", file=sys.stderr)
        for name in extra:
            print(f"not generated: {name}", file=sys.stderr)
        return 1 if bad or extra else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(BILLS)} bills and README.md to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
