// Chat formats and prompt templates against references: the ChatML plugin must render the
// `chat_template` cases of the Qwen2.5-Math tokenizer fixture and the tiny-qwen2 fixture byte for
// byte (made by transformers' apply_chat_template), and the qwen25-math-cot evaluation template
// must produce the exact string of data/README.md section 5.
import Foundation
import VerityFixtures
import VerityLua
import VerityTokenizer
import XCTest

final class ChatFormatTests: XCTestCase {
    struct Case { var messages: [ChatMessage]; var addGenerationPrompt: Bool; var text: String; var ids: [Int] }

    func cases(_ fixture: String) throws -> [Case] {
        let json = try JSONSerialization.jsonObject(with: try Fixtures.data(fixture)) as? [String: Any]
        let list = try XCTUnwrap(json?["chat_template"] as? [[String: Any]])
        return try list.map { c in
            let messages = try XCTUnwrap(c["messages"] as? [[String: String]]).map {
                ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "")
            }
            return Case(
                messages: messages, addGenerationPrompt: try XCTUnwrap(c["add_generation_prompt"] as? Bool),
                text: try XCTUnwrap(c["text"] as? String), ids: try XCTUnwrap(c["ids"] as? [Int]))
        }
    }

    func chatFormat(_ state: LuaState, _ expr: String) throws -> ChatFormatPlugin {
        // A project chunk that returns no function is a broken file: fail, never skip.
        guard
            case .function(let f) = try state.call(try state.load(source: "return " + expr, name: "t.lua")).first
                ?? .nil
        else {
            XCTFail("\(expr) is not a function")
            throw LuaError.state(message: "\(expr) is not a function")
        }
        return ChatFormatPlugin(f)
    }

    func testChatMLMatchesTokenizerFixtures() throws {
        let state = try LuaState()
        let chatml = try chatFormat(state, "require('lib.chat').qwen25_math")
        for fixture in ["qwen2.5-tokenizer/reference.json", "tiny-qwen2/reference.json"] {
            let all = try cases(fixture)
            XCTAssertEqual(all.count, 3, fixture)
            // The rendered text, tokenized by the fixture's own tokenizer, gives transformers' ids.
            let tokenizer = try Tokenizer(folder: Fixtures.url(fixture).deletingLastPathComponent())
            for c in all {
                let text = try chatml(c.messages, addGenerationPrompt: c.addGenerationPrompt, in: state)
                XCTAssertEqual(text, c.text, fixture)
                XCTAssertEqual(tokenizer.encode(text), c.ids, fixture)
            }
        }
    }

    func testLlama3Format() throws {
        // Meta-Llama-3-8B-Instruct's template: bos once, header per message, trimmed content, <|eot_id|>.
        let state = try LuaState()
        let llama = try chatFormat(state, "require('lib.chat').llama3")
        let text = try llama(
            [ChatMessage(role: "system", content: "Be brief. "), ChatMessage(role: "user", content: "\nHi")],
            addGenerationPrompt: true, in: state)
        XCTAssertEqual(
            text,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        )
    }

    func testQwenMathCotTemplateMatchesReadme() throws {
        let state = try LuaState()
        guard
            case .function(let f) = try state.call(
                try state.load(source: "return require 'prompts.qwen25_math_cot'", name: "t.lua")
            ).first ?? .nil
        else {
            return XCTFail("no function")
        }
        let problem = "What is $\\frac{1}{2} + \\frac{1}{3}$?"
        let example = state.makeTable(.object(["problem": .string(problem)]))
        // data/README.md section 5, written out.
        let expected =
            "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>user\n"
            + problem + "<|im_end|>\n<|im_start|>assistant\n"
        XCTAssertEqual(try PromptPlugin(f)(example, in: state), .text(expected))
    }

    func testPaperPromptRendersLikeTheTokenizerTemplate() throws {
        // The paper's training prompt through ChatML must equal the fixture's single-user-message
        // case shape: default system line, the prompt as the user turn, generation prompt.
        let state = try LuaState()
        guard
            case .function(let p) = try state.call(
                try state.load(source: "return require 'prompts.paper'", name: "t.lua")
            ).first ?? .nil
        else {
            return XCTFail("no function")
        }
        let chatml = try chatFormat(state, "require('lib.chat').qwen25_math")
        let single = try cases("qwen2.5-tokenizer/reference.json")[0]
        let example = state.makeTable(.object(["prompt": .string(single.messages[0].content)]))
        XCTAssertEqual(
            try RecipeLoader.renderPrompt(PromptPlugin(p), chatFormat: chatml, example: example, state: state),
            single.text)
    }
}
