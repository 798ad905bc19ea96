import Common
import Foundation
import Pipelines
import TestSupport
import XCTest

final class AdapterTests: XCTestCase {
    private func touch(_ scratch: ScratchDir, _ paths: [String], contents: String = "") throws {
        for p in paths {
            let url = scratch.url.appendingPathComponent(p)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.write(to: url, atomically: false, encoding: .utf8)
        }
    }

    func testHDTFClips() throws {
        let s = ScratchDir()
        try touch(s, ["WDA_BarackObama_001.mp4", "RD_Radio7_000.webm", "RD_Radio7_012.mkv", "WRA_X.mp4", "notes.txt", "sub/WRA_C_000.mp4"])
        var options = HDTFOptions()
        options.layout = "clips"
        let items = try AdapterSpec.hdtf(options).list(root: s.url.path).items
        XCTAssertEqual(items.map(\.id), ["RD_Radio7_000", "RD_Radio7_012", "WDA_BarackObama_001", "WRA_X"])
        XCTAssertEqual(items.map(\.speaker), ["RD_Radio7", "RD_Radio7", "WDA_BarackObama", "WRA_X"])
        XCTAssertEqual(items[2], SourceItem(id: "WDA_BarackObama_001", source: "WDA_BarackObama_001.mp4",
                                            speaker: "WDA_BarackObama", split: "train"))
    }

    func testLRS2SplitLists() throws {
        let s = ScratchDir()
        try touch(s, ["main/111/00001.mp4", "main/111/00002.mp4", "main/222/00001.mp4", "main/333/00009.mp4",
                      "pretrain/444/00001.mp4"])
        try "111/00001\n111/00002\n".write(to: s.url.appendingPathComponent("train.txt"), atomically: false, encoding: .utf8)
        try "222/00001 NF\n".write(to: s.url.appendingPathComponent("test.txt"), atomically: false, encoding: .utf8)
        let items = try AdapterSpec.lrs2(LRS2Options()).list(root: s.url.path).items
        XCTAssertEqual(items.map(\.id), ["main/111/00001", "main/111/00002", "main/222/00001"])
        XCTAssertEqual(items.map(\.split), ["train", "train", "test"])
        XCTAssertEqual(items[2].speaker, "222")
        XCTAssertEqual(items[2].source, "main/222/00001.mp4")
        var options = LRS2Options()
        options.sets = ["main", "pretrain"]
        let all = try AdapterSpec.lrs2(options).list(root: s.url.path).items
        XCTAssertEqual(all.last, SourceItem(id: "pretrain/444/00001", source: "pretrain/444/00001.mp4", speaker: "444", split: "pretrain"))
        try FileManager.default.removeItem(at: s.url.appendingPathComponent("train.txt"))
        try FileManager.default.removeItem(at: s.url.appendingPathComponent("test.txt"))
        XCTAssertThrowsError(try AdapterSpec.lrs2(LRS2Options()).list(root: s.url.path).items) {
            XCTAssertTrue("\($0)".contains("no split list"), "\($0)")
        }
    }

    func testLRWWordAndSplitFromFolders() throws {
        let s = ScratchDir()
        try touch(s, ["ABOUT/train/ABOUT_00001.mp4", "ABOUT/train/ABOUT_00001.txt", "ABOUT/val/ABOUT_00002.mp4",
                      "WORLD/test/WORLD_00003.mp4", "WORLD/test/OTHER_00001.mp4"])
        let items = try AdapterSpec.lrw(LRWOptions()).list(root: s.url.path).items
        XCTAssertEqual(items.map(\.id), ["ABOUT/train/ABOUT_00001", "ABOUT/val/ABOUT_00002", "WORLD/test/WORLD_00003"])
        XCTAssertEqual(items.map(\.split), ["train", "val", "test"])
        XCTAssertEqual(items.map(\.label), ["ABOUT", "ABOUT", "WORLD"])
    }

    func testFolderAndDemo() throws {
        let s = ScratchDir()
        try touch(s, ["a.mp4", "x/b.MOV", "x/y/c.mkv", "x/y/readme.md", ".hidden/d.mp4"])
        let items = try AdapterSpec.folder(FolderOptions()).list(root: s.url.path).items
        XCTAssertEqual(items.map(\.id), ["a", "x/b", "x/y/c"])
        XCTAssertEqual(items.map(\.speaker), ["", "x", "y"])

        let d = ScratchDir()
        try touch(d, ["spk1/c1.mp4", "spk1/c2.mp4", "spk2/c1.mp4", "top.mp4"])
        try #"{"split": "val", "text": "hello"}"#.write(to: d.url.appendingPathComponent("spk1/c2.json"), atomically: false, encoding: .utf8)
        let demo = try AdapterSpec.demo(DemoOptions()).list(root: d.url.path).items
        XCTAssertEqual(demo.map(\.id), ["spk1/c1", "spk1/c2", "spk2/c1"])
        XCTAssertEqual(demo.map(\.speaker), ["spk1", "spk1", "spk2"])
        XCTAssertEqual(demo.map(\.split), ["train", "val", "train"])
    }

    func testMissingRootIsAnInputError() {
        for kind in AdapterKind.allCases {
            let spec: AdapterSpec
            switch kind {
            case .hdtf: spec = .hdtf(HDTFOptions())
            case .lrs2: spec = .lrs2(LRS2Options())
            case .lrs3: spec = .lrs3(LRS3Options())
            case .voxceleb2: spec = .voxceleb2(VoxCeleb2Options())
            case .grid: spec = .grid(GRIDOptions())
            case .lrw: spec = .lrw(LRWOptions())
            case .folder: spec = .folder(FolderOptions())
            case .demo: spec = .demo(DemoOptions())
            }
            XCTAssertThrowsError(try spec.list(root: "/nonexistent/data").items) { error in
                XCTAssertEqual((error as? InputError)?.path, "/nonexistent/data")
                XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
            }
        }
    }
}
