import Foundation
import Testing
import TestSupport
@testable import TraceCore

/// The skip reasons are metric labels people alert on: the table in docs/operations.md §10 must list exactly the
/// ones the code can emit, each under the counter it labels.
@Suite struct SkipReasonTests {
    /// The rows of the table between the `skip reasons` markers: reason → counter (without `trace_bridge_`).
    static func documented() throws -> [(reason: String, counter: String)] {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        let start = try #require(text.range(of: "<!-- skip reasons: SkipReason.allCases -->"), "the table's start marker")
        let end = try #require(text.range(of: "<!-- /skip reasons -->"), "the table's end marker")
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[0].hasPrefix("`") else { return nil }
            return (cells[0].trimmingCharacters(in: ["`"]), cells[1].trimmingCharacters(in: ["`"]))
        }
    }

    @Test("docs/operations.md §10 lists every SkipReason and nothing else, each under its counter")
    func documentedLabelsAreTheCode() throws {
        let rows = try Self.documented()
        let documented = rows.map(\.reason)
        let code = SkipReason.allCases.map(\.rawValue)
        #expect(Set(documented).count == documented.count, "a reason is listed twice: \(documented)")
        #expect(Set(code).subtracting(documented).sorted() == [], "in the code, not in docs/operations.md §10")
        #expect(Set(documented).subtracting(code).sorted() == [], "in docs/operations.md §10, not in the code")
        for row in rows {
            guard let reason = SkipReason(rawValue: row.reason) else { continue }
            #expect(row.counter == reason.counter.rawValue, "\(row.reason) is counted in \(reason.counter.rawValue)")
        }
    }

    @Test("labels are snake_case and unique; the detail name drops only the stage prefix")
    func labels() {
        for reason in SkipReason.allCases {
            #expect(reason.rawValue.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(reason.rawValue)")
            #expect(reason.description == reason.rawValue)
            #expect(reason.rawValue.hasSuffix(reason.detailName))
        }
        #expect(SkipReason.fixtureMissingField.detailName == "missing_field")
        #expect(SkipReason.osloInnerJSONTooDeep.detailName == "inner_json_too_deep")
        #expect(SkipReason.duplicateDelivery.detailName == "duplicate_delivery")
    }

    @Test("every JSON error code maps to a distinct reason, in the envelope and inside oslo.message")
    func jsonCodes() {
        let codes: [JSONError.Code] = [.unexpectedEnd, .unexpectedByte, .invalidEscape, .invalidUTF8, .invalidNumber,
                                       .tooDeep, .trailingData]
        for code in codes {
            #expect(SkipReason.oslo(code, inner: false).rawValue == "oslo_\(code.rawValue)")
            #expect(SkipReason.oslo(code, inner: true).rawValue == "oslo_inner_\(code.rawValue)")
        }
    }
}
