import XCTest
@testable import PetalEvaluation

final class ChartTests: XCTestCase {
    func testNiceTicksAreRoundAndCoverTheRange() {
        XCTAssertEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1.0].map { $0 }, accuracy: 1e-12)
        XCTAssertEqual(niceTicks(0.43, 0.91), [0.5, 0.6, 0.7, 0.8, 0.9], accuracy: 1e-12)
        XCTAssertEqual(niceTicks(0, 37), [0, 10, 20, 30], accuracy: 1e-12)
    }

    func testHeatColoursRunFromWhiteToDeepBlueWithReadableText() {
        XCTAssertEqual(heatColor(0).fill, "#f7fbff")
        XCTAssertEqual(heatColor(0.75).fill, "#2171b5")
        XCTAssertEqual(heatColor(1).fill, "#08306b")
        XCTAssertEqual(heatColor(0.2).text, "#1f2933")
        XCTAssertEqual(heatColor(0.9).text, "#ffffff")
        XCTAssertEqual(heatColor(.nan).fill, "#f7fbff")
    }

    func testManyClassesAndLongNamesStillGiveAHeatMap() {
        let n = 30
        let names = (0..<n).map { "a rather long class name \($0)" }
        let counts = (0..<n).map { i in (0..<n).map { $0 == i ? 9 : ($0 == (i + 1) % n ? 1 : 0) } }
        let rates = counts.map { row in row.map { Double($0) / 10 } }
        let svg = ConfusionHeatMap(classNames: names, counts: counts, rates: rates).svg()
        XCTAssertEqual(svg.components(separatedBy: "<rect ").count - 1, n * n)
        XCTAssertFalse(svg.contains("%</text>"))            // cells too small for the rate line
        XCTAssertTrue(svg.contains("a rather long cla…"))   // names shortened, full name in <title>
    }

    func testChartsSkipNonFiniteValuesAndHandleASingleEpoch() {
        let chart = LineChart(title: "Loss", series: [
            .init(name: "training", color: "#000", points: [(1, 0.9), (2, .nan), (3, .infinity), (4, 0.5)]),
        ])
        let svg = chart.svg()
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 2)
        XCTAssertFalse(svg.contains("nan") || svg.contains("inf"))
        let single = LineChart(title: "Accuracy", series: [.init(name: "training", color: "#000", points: [(1, 0.5)])]).svg()
        XCTAssertEqual(single.components(separatedBy: "<circle").count - 1, 1)
        let empty = LineChart(title: "Accuracy", series: []).svg()
        XCTAssertTrue(empty.contains("No values to plot"))
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(a) vs \(b)", file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}
