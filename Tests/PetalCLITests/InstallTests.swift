import Foundation
import PetalCore
import PetalTestSupport
import PetalTraining
import XCTest

/// `scripts/setup.sh --install-only / --uninstall` with the built petal, into a temporary prefix:
/// the installed command finds its resources, has completions, upgrades in place, and
/// uninstalling removes what was installed and nothing else.
final class InstallTests: XCTestCase {
    private var prefix: URL!

    override func setUp() {
        prefix = Fixtures.temporaryDirectory("petal-prefix")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: prefix)
    }

    private func setup(_ arguments: [String]) throws -> PetalProcess.Result {
        try PetalProcess.run(executable: URL(fileURLWithPath: "/bin/bash"),
                             [Fixtures.repositoryRoot.appendingPathComponent("scripts/setup.sh").path] + arguments)
    }

    private func install() throws {
        let built = PetalProcess.executable.deletingLastPathComponent().path
        let result = try setup(["--install-only", "--from", built, "--prefix", prefix.path])
        XCTAssertEqual(result.status, 0, result.output)
    }

    /// Every file and folder under the prefix, relative to it.
    private func contents() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: prefix.path)
        return ((enumerator?.allObjects as? [String]) ?? []).sorted()
    }

    func testInstalledPetalFindsItsResourcesAndCompletions() throws {
        try install()
        let petal = prefix.appendingPathComponent("bin/petal")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: petal.path), "../lib/petal/petal")

        // Run from elsewhere with an empty weights folder (no hashing): the JSON still names the
        // class list it found, which must be the installed copy, not the build folder's.
        let result = try PetalProcess.run(executable: petal, ["doctor", "--json"], in: FileManager.default.temporaryDirectory,
                                          environment: ["PETAL_HOME": prefix.appendingPathComponent("no-home").path])
        XCTAssertEqual(result.status, 1, "the weights are missing in this environment: \(result.output)")
        let diagnostics = try PetalJSON.decode(Diagnostics.self, from: Data(result.stdout.utf8))
        let classes = try XCTUnwrap(diagnostics.item("ImageNet classes"))
        XCTAssertEqual(classes.status, .ok)
        XCTAssertEqual(classes.value, "1000 in \(prefix.path)/lib/petal/Petal_PetalModels.resources")

        let completions = [("share/bash-completion/completions/petal", "_petal"),
                           ("share/zsh/site-functions/_petal", "#compdef petal"),
                           ("share/fish/vendor_completions.d/petal.fish", "complete -c 'petal'")]
        for (file, marker) in completions {
            let text = try String(contentsOf: prefix.appendingPathComponent(file), encoding: .utf8)
            XCTAssertTrue(text.contains(marker) && text.contains("doctor"), "\(file) is not petal's completion script")
        }
    }

    func testReinstallUpgradesInPlaceAndUninstallRemovesOnlyWhatItInstalled() throws {
        // Someone else's file in the same folders must survive everything below.
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: prefix.appendingPathComponent("bin/other-tool"))
        try install()
        let installed = contents()
        let manifest = prefix.appendingPathComponent("lib/petal/install-manifest.txt")
        let firstManifest = try String(contentsOf: manifest, encoding: .utf8)
        XCTAssertFalse(firstManifest.contains("other-tool"))

        // An older install that had one more file: the upgrade removes it, and leaves the same tree.
        let stale = prefix.appendingPathComponent("lib/petal/old-file")
        try Data().write(to: stale)
        try (firstManifest + "file \(stale.path)\n").write(to: manifest, atomically: true, encoding: .utf8)
        try install()
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path))
        XCTAssertEqual(contents(), installed)
        XCTAssertEqual(try String(contentsOf: manifest, encoding: .utf8), firstManifest)

        let result = try setup(["--uninstall", "--prefix", prefix.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(contents(), ["bin", "bin/other-tool"])
        XCTAssertEqual(try String(contentsOf: prefix.appendingPathComponent("bin/other-tool"), encoding: .utf8), "keep")
    }

    func testAForeignPetalIsNotReplaced() throws {
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try Data("#!/bin/sh\n".utf8).write(to: prefix.appendingPathComponent("bin/petal"))
        let result = try setup(["--install-only", "--from", PetalProcess.executable.deletingLastPathComponent().path,
                                "--prefix", prefix.path])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.stderr.contains("\(prefix.path)/bin/petal exists and was not installed by scripts/setup.sh"), result.output)
        XCTAssertEqual(contents(), ["bin", "bin/petal"], "a refused install must write nothing")
    }
}
