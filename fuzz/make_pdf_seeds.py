#!/usr/bin/env python3
"""Write small hand-made Factur-X PDFs to fuzz/seeds/pdf/ (committed; made by the team).

The Factur-X sample PDFs of the shared corpus are ~150 KB each (fonts, images), so the `pdf`
target runs at ~15 exec/s on them. These seeds are a few KB: a minimal PDF whose catalog names
one embedded file (`factur-x.xml`, a short CII D16B invoice written here), in several shapes:
uncompressed, FlateDecode, referenced from /AF only, a UTF-16 file name, and a cross-reference
stream with an object stream. Run: python3 fuzz/make_pdf_seeds.py
"""
import os
import zlib

CII = b"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
<rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>
<rsm:ExchangedDocument><ram:ID>FUZZ-1</ram:ID><ram:TypeCode>380</ram:TypeCode>
<ram:IssueDateTime><udt:DateTimeString format="102">20261102</udt:DateTimeString></ram:IssueDateTime></rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction>
<ram:ApplicableHeaderTradeAgreement><ram:SellerTradeParty><ram:Name>Fuzz SAS</ram:Name>
<ram:PostalTradeAddress><ram:CountryID>FR</ram:CountryID></ram:PostalTradeAddress>
<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">FR32123456789</ram:ID></ram:SpecifiedTaxRegistration></ram:SellerTradeParty>
<ram:BuyerTradeParty><ram:Name>Buyer</ram:Name></ram:BuyerTradeParty></ram:ApplicableHeaderTradeAgreement>
<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>58</ram:TypeCode>
<ram:PayeePartyCreditorFinancialAccount><ram:IBANID>FR7630006000011234567890189</ram:IBANID></ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>
<ram:SpecifiedTradePaymentTerms><ram:DueDateDateTime><udt:DateTimeString format="102">20261202</udt:DateTimeString></ram:DueDateDateTime></ram:SpecifiedTradePaymentTerms>
<ram:SpecifiedTradeSettlementHeaderMonetarySummation><ram:GrandTotalAmount>120.00</ram:GrandTotalAmount>
<ram:DuePayableAmount>120.00</ram:DuePayableAmount></ram:SpecifiedTradeSettlementHeaderMonetarySummation>
</ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>
"""


def stream(dict_body: bytes, data: bytes) -> bytes:
    return b"<< " + dict_body + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def classic(objects: dict, root: int = 1) -> bytes:
    """A PDF with a classic xref table; `objects` maps number -> body."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += (b"%010d 00000 n \n" % offsets[num]) if num in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref)
    return bytes(out)


def base(ef_stream: bytes, name: bytes = b"(factur-x.xml)", names_tree: bool = True) -> dict:
    catalog = b"<< /Type /Catalog /Pages 2 0 R /AF [4 0 R]"
    if names_tree:
        catalog += b" /Names << /EmbeddedFiles << /Names [" + name + b" 4 0 R] >> >>"
    catalog += b" >>"
    return {
        1: catalog,
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        4: b"<< /Type /Filespec /F " + name + b" /UF " + name
        + b" /AFRelationship /Data /EF << /F 5 0 R /UF 5 0 R >> >>",
        5: ef_stream,
    }


def xref_stream_pdf() -> bytes:
    """PDF 1.5 shape: objects 1-4 in an object stream, a cross-reference stream."""
    objs = base(b"")
    del objs[5]
    ef = stream(b"/Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode", zlib.compress(CII))
    body = b""
    header = b""
    for num in (1, 2, 3, 4):
        header += b"%d %d " % (num, len(body))
        body += objs[num] + b"\n"
    objstm_data = header + body
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    off5 = len(out)
    out += b"5 0 obj\n" + ef + b"\nendobj\n"
    off6 = len(out)
    out += b"6 0 obj\n" + stream(b"/Type /ObjStm /N 4 /First %d /Filter /FlateDecode" % len(header),
                                 zlib.compress(objstm_data)) + b"\nendobj\n"
    off7 = len(out)
    rows = [bytes([0, 0, 0, 0, 0xFF, 0xFF])]  # object 0: free
    for i in range(4):  # objects 1-4: in object stream 6, index i
        rows.append(bytes([2, 0, 0, 0, 6, i]))
    rows.append(bytes([1]) + off5.to_bytes(4, "big") + b"\x00")
    rows.append(bytes([1]) + off6.to_bytes(4, "big") + b"\x00")
    rows.append(bytes([1]) + off7.to_bytes(4, "big") + b"\x00")
    data = b"".join(rows)
    out += b"7 0 obj\n" + stream(b"/Type /XRef /Size 8 /W [1 4 1] /Root 1 0 R", data) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % off7
    return bytes(out)


def main() -> None:
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "pdf")
    os.makedirs(here, exist_ok=True)
    plain = stream(b"/Type /EmbeddedFile /Subtype /text#2Fxml", CII)
    flate = stream(b"/Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode", zlib.compress(CII))
    utf16_name = b"<FEFF" + "zugferd-invoice.xml".encode("utf-16-be").hex().upper().encode() + b">"
    seeds = {
        "facturx-plain.pdf": classic(base(plain)),
        "facturx-flate.pdf": classic(base(flate)),
        "facturx-af-only.pdf": classic(base(flate, names_tree=False)),
        "zugferd-utf16-name.pdf": classic(base(plain, name=utf16_name)),
        "facturx-xref-stream.pdf": xref_stream_pdf(),
        "no-attachment.pdf": classic({1: b"<< /Type /Catalog /Pages 2 0 R >>",
                                      2: b"<< /Type /Pages /Kids [] /Count 0 >>"}),
    }
    for name, data in seeds.items():
        with open(os.path.join(here, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
